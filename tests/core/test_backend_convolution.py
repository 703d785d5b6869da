"""K.conv1d/2d/3d, deconv2d, atrous_conv2d, separable_conv2d, pool2d and pool3d against
direct numpy loops, in both dim orderings and Keras 1's kernel layouts."""

import itertools
import math

import numpy as np
import pytest
import torch

from lamella import backend as K


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.fixture
def restore_ordering():
    saved = K.image_dim_ordering()
    yield
    K.set_image_dim_ordering(saved)


# --------------------------------------------------------------------------------------------
# numpy references, channels first, kernels (out, in, *window)


def tf_same_pads(size, k, s, d=1):
    """TensorFlow's 'same': enough padding for ceil(size / s) outputs, the odd cell last."""
    span = (k - 1) * d + 1
    total = max((math.ceil(size / s) - 1) * s + span - size, 0)
    return total // 2, total - total // 2


def np_pads(sizes, window, mode, strides, dilation):
    if mode == "valid":
        return [(0, 0)] * len(sizes)
    if mode == "full":
        return [((k - 1) * d, (k - 1) * d) for k, d in zip(window, dilation, strict=True)]
    return [
        tf_same_pads(n, k, s, d)
        for n, k, s, d in zip(sizes, window, strides, dilation, strict=True)
    ]


def np_correlate(x, w, strides, mode, dilation=None):
    """out[b, o, p] = sum_{c, a} x_padded[b, c, p * s + a * d] * w[o, c, a]."""
    rank = w.ndim - 2
    dilation = dilation or (1,) * rank
    pads = np_pads(x.shape[2:], w.shape[2:], mode, strides, dilation)
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    spans = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], dilation, strict=True)]
    out_sizes = [(n - sp) // s + 1 for n, sp, s in zip(x.shape[2:], spans, strides, strict=True)]
    out = np.zeros((x.shape[0], w.shape[0], *out_sizes))
    for pos in itertools.product(*map(range, out_sizes)):
        window = x[
            (
                slice(None),
                slice(None),
                *(
                    slice(p * s, p * s + sp, d)
                    for p, s, sp, d in zip(pos, strides, spans, dilation, strict=True)
                ),
            )
        ]
        out[(slice(None), slice(None), *pos)] = np.tensordot(
            window, w, axes=(list(range(1, rank + 2)), list(range(1, rank + 2)))
        )
    return out


def np_pool(x, size, strides, mode, pool_mode):
    pads = np_pads(x.shape[2:], size, mode, strides, (1,) * len(size))
    x = np.pad(x, [(0, 0), (0, 0), *pads], constant_values=np.nan)
    out_sizes = [(n - k) // s + 1 for n, k, s in zip(x.shape[2:], size, strides, strict=True)]
    out = np.zeros((*x.shape[:2], *out_sizes))
    reduce = np.nanmax if pool_mode == "max" else np.nanmean  # padding is never counted
    for pos in itertools.product(*map(range, out_sizes)):
        cells = x[
            (..., *(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, size, strict=True)))
        ]
        out[(..., *pos)] = reduce(cells.reshape(*x.shape[:2], -1), axis=-1)
    return out


def np_transposed_conv2d(x, w, out_size, strides, mode):
    """Scatter each input cell through the kernel, then cut the 'same' padding off."""
    batch, _, rows, cols = x.shape
    k_r, k_c = w.shape[2:]
    full = np.zeros(
        (batch, w.shape[0], (rows - 1) * strides[0] + k_r, (cols - 1) * strides[1] + k_c)
    )
    for i, j in itertools.product(range(rows), range(cols)):
        r, c = i * strides[0], j * strides[1]
        full[:, :, r : r + k_r, c : c + k_c] += np.einsum("bi,oiuv->bouv", x[:, :, i, j], w)
    pads = np_pads(out_size, (k_r, k_c), mode, strides, (1, 1))
    out = np.zeros((batch, w.shape[0], *out_size))
    (top, _), (left, _) = pads
    part = full[:, :, top : top + out_size[0], left : left + out_size[1]]
    out[:, :, : part.shape[2], : part.shape[3]] = part
    return out


# --------------------------------------------------------------------------------------------
# layouts


def to_tf_input(x):
    return np.moveaxis(x, 1, -1)


def to_tf_kernel(w):
    """(out, in, *window) to (*window, in, out)."""
    return np.transpose(w, (*range(2, w.ndim), 1, 0))


def run(fn, x, kernels, ordering, **kwargs):
    """Call ``fn`` in ``ordering`` on channels-first numpy data; result channels first."""
    if ordering == "tf":
        x, kernels = to_tf_input(x), [to_tf_kernel(k) for k in kernels]
    out = fn(torch.tensor(x), *[torch.tensor(k) for k in kernels], dim_ordering=ordering, **kwargs)
    out = out.detach().numpy()
    return out if ordering == "th" else np.moveaxis(out, -1, 1)


ORDERINGS = ["th", "tf"]


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize(
    ("mode", "strides", "dilation"),
    [
        ("valid", (1, 1), (1, 1)),
        ("same", (1, 1), (1, 1)),
        ("same", (2, 2), (1, 1)),
        ("valid", (2, 1), (1, 1)),
        ("full", (1, 2), (1, 1)),
        ("same", (1, 1), (2, 1)),
    ],
)
def test_conv2d(ordering, mode, strides, dilation):
    x, w = rand(2, 3, 7, 6), rand(4, 3, 3, 2, seed=1)  # an even kernel width pads asymmetrically
    out = run(
        K.conv2d, x, [w], ordering, strides=strides, border_mode=mode, filter_dilation=dilation
    )
    expected = np_correlate(x, w, strides, mode, dilation)
    if mode == "same":
        assert out.shape[2:] == tuple(
            math.ceil(n / s) for n, s in zip((7, 6), strides, strict=True)
        )
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_conv2d_same_pads_the_odd_cell_at_the_end():
    """A 1x2 kernel of [1, 10] over [1, 2, 3]: TensorFlow pads one zero after, none before."""
    x = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    w = torch.tensor([[[[1.0, 10.0]]]])
    out = K.conv2d(x, w, border_mode="same", dim_ordering="th")
    np.testing.assert_allclose(out.numpy().ravel(), [21.0, 32.0, 3.0])


def test_conv2d_default_ordering_follows_image_dim_ordering(restore_ordering):
    x, w = rand(1, 2, 5, 5), rand(3, 2, 3, 3, seed=1)
    K.set_image_dim_ordering("tf")
    out = K.conv2d(torch.tensor(to_tf_input(x)), torch.tensor(to_tf_kernel(w)))
    expected = np.moveaxis(np_correlate(x, w, (1, 1), "valid"), 1, -1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)
    K.set_image_dim_ordering("th")
    out = K.conv2d(torch.tensor(x), torch.tensor(w))
    np.testing.assert_allclose(out.numpy(), np.moveaxis(expected, -1, 1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("mode", "stride"), [("valid", 1), ("same", 1), ("same", 2), ("valid", 3)])
def test_conv1d_takes_steps_by_features_and_a_length_in_out_kernel(mode, stride):
    x, w = rand(2, 9, 3), rand(4, 3, 5, seed=1)  # x (batch, steps, in), w (length, in, out)
    out = K.conv1d(torch.tensor(x), torch.tensor(w), stride=stride, border_mode=mode)
    expected = np_correlate(x.transpose(0, 2, 1), w.transpose(2, 1, 0), (stride,), mode)
    np.testing.assert_allclose(out.numpy(), expected.transpose(0, 2, 1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize(("mode", "strides"), [("valid", (1, 1, 1)), ("same", (2, 1, 2))])
def test_conv3d(ordering, mode, strides):
    x, w = rand(2, 2, 5, 4, 5), rand(3, 2, 2, 3, 2, seed=1)
    out = run(K.conv3d, x, [w], ordering, strides=strides, border_mode=mode)
    np.testing.assert_allclose(out, np_correlate(x, w, strides, mode), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("mode", ["valid", "same"])
def test_atrous_conv2d_spaces_the_kernel_taps(ordering, mode):
    x, w = rand(1, 2, 9, 8), rand(3, 2, 3, 3, seed=1)
    out = run(K.atrous_conv2d, x, [w], ordering, rate=2, border_mode=mode)
    np.testing.assert_allclose(
        out, np_correlate(x, w, (1, 1), mode, (2, 2)), rtol=1e-10, atol=1e-10
    )


def np_separable(x, depthwise, pointwise, strides, mode):
    """depthwise (multiplier, in, r, c), pointwise (out, in * multiplier, 1, 1): intermediate
    channel c * multiplier + m is input channel c under kernel m."""
    multiplier, channels = depthwise.shape[:2]
    middle = [
        np_correlate(x[:, c : c + 1], depthwise[m, c][None, None], strides, mode)[:, 0]
        for c in range(channels)
        for m in range(multiplier)
    ]
    return np.einsum("bkuv,ok->bouv", np.stack(middle, axis=1), pointwise[:, :, 0, 0])


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize(("mode", "strides"), [("valid", (1, 1)), ("same", (2, 2))])
def test_separable_conv2d(ordering, mode, strides):
    x = rand(2, 3, 6, 7)
    depthwise, pointwise = rand(2, 3, 3, 2, seed=1), rand(4, 6, 1, 1, seed=2)
    if ordering == "tf":  # depthwise (rows, cols, in, multiplier), pointwise (1, 1, in*m, out)
        kernels = [np.transpose(depthwise, (2, 3, 1, 0)), to_tf_kernel(pointwise)]
        args = [torch.tensor(to_tf_input(x)), *map(torch.tensor, kernels)]
    else:
        args = [torch.tensor(x), torch.tensor(depthwise), torch.tensor(pointwise)]
    out = K.separable_conv2d(*args, strides=strides, border_mode=mode, dim_ordering=ordering)
    out = out.numpy() if ordering == "th" else np.moveaxis(out.numpy(), -1, 1)
    expected = np_separable(x, depthwise, pointwise, strides, mode)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize(
    ("mode", "strides", "in_size", "out_size"),
    [
        ("valid", (1, 1), (4, 3), (6, 4)),
        ("valid", (2, 2), (3, 3), (8, 7)),  # the last row and column: no window reaches them
        ("same", (2, 2), (3, 3), (6, 5)),
        ("same", (1, 2), (4, 3), (4, 6)),
    ],
)
def test_deconv2d_is_the_transposed_convolution(ordering, mode, strides, in_size, out_size):
    x, w = rand(2, 3, *in_size), rand(2, 3, 3, 2, seed=1)  # w (out 2, in 3, rows, cols)
    expected = np_transposed_conv2d(x, w, out_size, strides, mode)
    output_shape = (2, 2, *out_size) if ordering == "th" else (None, *out_size, 2)
    out = run(
        K.deconv2d, x, [w], ordering, output_shape=output_shape, strides=strides, border_mode=mode
    )
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_deconv2d_is_the_adjoint_of_conv2d():
    """<conv2d(y, w'), x> == <y, deconv2d(x, w)>, where w' is w with its in and out axes
    swapped (w maps deconv2d's input channels to its output channels)."""
    y, w, x = rand(1, 2, 7, 6), rand(2, 3, 3, 3, seed=1), rand(1, 3, 4, 3, seed=2)
    conv_kernel = torch.tensor(w.transpose(1, 0, 2, 3))
    conv = K.conv2d(torch.tensor(y), conv_kernel, (2, 2), "same", "th").numpy()
    deconv = K.deconv2d(torch.tensor(x), torch.tensor(w), (1, 2, 7, 6), (2, 2), "same", "th")
    np.testing.assert_allclose(np.sum(conv * x), np.sum(y * deconv.numpy()), rtol=1e-10)


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("pool_mode", ["max", "avg"])
@pytest.mark.parametrize(
    ("mode", "size", "strides"),
    [
        ("valid", (2, 2), (2, 2)),
        ("valid", (3, 2), (1, 1)),
        ("same", (2, 3), (2, 2)),
        ("same", (3, 3), (1, 1)),
    ],
)
def test_pool2d(ordering, pool_mode, mode, size, strides):
    x = rand(2, 3, 5, 7)
    out = run(
        K.pool2d,
        x,
        [],
        ordering,
        pool_size=size,
        strides=strides,
        border_mode=mode,
        pool_mode=pool_mode,
    )
    np.testing.assert_allclose(
        out, np_pool(x, size, strides, mode, pool_mode), rtol=1e-10, atol=1e-12
    )


def test_same_average_pooling_does_not_count_the_padding():
    """Ones stay ones: each 'same' window is averaged over the cells it covers only."""
    out = K.pool2d(
        torch.ones(1, 1, 3, 4), (3, 3), border_mode="same", dim_ordering="th", pool_mode="avg"
    )
    np.testing.assert_allclose(out.numpy(), np.ones((1, 1, 3, 4)))


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("pool_mode", ["max", "avg"])
@pytest.mark.parametrize(("mode", "strides"), [("valid", (2, 1, 2)), ("same", (2, 2, 2))])
def test_pool3d(ordering, pool_mode, mode, strides):
    x, size = rand(1, 2, 5, 4, 5), (2, 2, 3)
    out = run(
        K.pool3d,
        x,
        [],
        ordering,
        pool_size=size,
        strides=strides,
        border_mode=mode,
        pool_mode=pool_mode,
    )
    np.testing.assert_allclose(
        out, np_pool(x, size, strides, mode, pool_mode), rtol=1e-10, atol=1e-12
    )


# --------------------------------------------------------------------------------------------
# gradients


def leaf(*shape, seed=0):
    return torch.tensor(rand(*shape, seed=seed), requires_grad=True)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        (
            "conv2d",
            lambda: (
                lambda x, w: K.conv2d(x, w, (2, 1), "same", "tf"),
                leaf(1, 5, 4, 2),
                leaf(2, 3, 2, 2, seed=1),
            ),
        ),
        (
            "conv1d",
            lambda: (lambda x, w: K.conv1d(x, w, 2, "same"), leaf(1, 5, 2), leaf(2, 2, 2, seed=1)),
        ),
        (
            "conv3d",
            lambda: (
                lambda x, w: K.conv3d(x, w, (1, 1, 1), "same", "th"),
                leaf(1, 1, 3, 3, 2),
                leaf(1, 1, 2, 2, 2, seed=1),
            ),
        ),
        (
            "atrous",
            lambda: (
                lambda x, w: K.atrous_conv2d(x, w, 2, "same", "th"),
                leaf(1, 1, 5, 5),
                leaf(1, 1, 2, 2, seed=1),
            ),
        ),
        (
            "deconv2d",
            lambda: (
                lambda x, w: K.deconv2d(x, w, (1, 2, 5, 5), (2, 2), "same", "th"),
                leaf(1, 2, 3, 3),
                leaf(2, 2, 2, 3, seed=1),
            ),
        ),
        (
            "separable",
            lambda: (
                lambda x, d, p: K.separable_conv2d(x, d, p, (1, 1), "same", "tf"),
                leaf(1, 4, 4, 2),
                leaf(2, 2, 2, 2, seed=1),
                leaf(1, 1, 4, 2, seed=2),
            ),
        ),
        (
            "avg pool",
            lambda: (lambda x: K.pool2d(x, (2, 3), (2, 2), "same", "th", "avg"), leaf(1, 2, 5, 5)),
        ),
        (
            "max pool",
            lambda: (
                lambda x: K.pool3d(x, (2, 2, 2), (2, 2, 2), "same", "tf", "max"),
                leaf(1, 3, 3, 3, 2),
            ),
        ),
    ],
)
def test_gradients(name, make):
    fn, *args = make()
    assert torch.autograd.gradcheck(fn, args)


# --------------------------------------------------------------------------------------------
# errors


def test_bad_arguments_are_named():
    x, w = torch.zeros(1, 3, 5, 5), torch.zeros(2, 3, 3, 3)
    with pytest.raises(ValueError, match="conv2d: border_mode"):
        K.conv2d(x, w, border_mode="half", dim_ordering="th")
    with pytest.raises(ValueError, match="conv2d: kernel expects 3 input channels, but x has 5"):
        K.conv2d(x, w, dim_ordering="tf")
    with pytest.raises(ValueError, match="pool2d: pool_mode"):
        K.pool2d(x, (2, 2), pool_mode="sum", dim_ordering="th")
    with pytest.raises(ValueError, match="pool2d: strides"):
        K.pool2d(x, (2, 2), strides=(0, 1), dim_ordering="th")
    with pytest.raises(ValueError, match="conv2d: the window"):
        K.conv2d(torch.zeros(1, 3, 2, 2), w, dim_ordering="th")
    with pytest.raises(ValueError, match=r"deconv2d: output_shape .* maps spatial size 9 to 5"):
        K.deconv2d(torch.zeros(1, 3, 3, 3), w, (1, 2, 9, 6), (2, 2), "same", "th")
    with pytest.raises(ValueError, match="deconv2d: output_shape has 4 channels"):
        K.deconv2d(torch.zeros(1, 3, 3, 3), w, (1, 4, 5, 5), (2, 2), "same", "th")


def test_conv2d_and_pool2d_run_under_autocast():
    """Mixed precision: a float32 kernel meets a bfloat16 input and torch casts both."""
    x, w = rand(1, 2, 6, 6), rand(3, 2, 3, 3, seed=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        xb = torch.tensor(x, dtype=torch.bfloat16)
        out = K.conv2d(xb, torch.tensor(w, dtype=torch.float32), (1, 1), "same", "th")
        pooled = K.pool2d(out, (2, 2), (2, 2), "same", "th", "avg")
    assert out.dtype == torch.bfloat16
    expected = np_pool(np_correlate(x, w, (1, 1), "same"), (2, 2), (2, 2), "same", "avg")
    np.testing.assert_allclose(pooled.float().numpy(), expected, rtol=0.05, atol=0.1)
