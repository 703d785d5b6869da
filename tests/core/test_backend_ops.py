"""lamella.backend's Keras 1 functions, each checked against numpy maths."""

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.backend import state

EPS = 1e-7  # Keras's (and lamella's) default epsilon


def rand(*shape: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def check(actual: torch.Tensor, expected, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert isinstance(actual, torch.Tensor)
    expected = np.asarray(expected)
    assert tuple(actual.shape) == expected.shape
    np.testing.assert_allclose(actual.detach().cpu().numpy(), expected, rtol=rtol, atol=atol)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture
def restore_settings():
    """Lets a test change floatx, image_dim_ordering or the learning phase."""
    saved = K.floatx(), K.image_dim_ordering(), dict(vars(state._phase))
    yield
    K.set_floatx(saved[0])
    K.set_image_dim_ordering(saved[1])
    vars(state._phase).clear()
    vars(state._phase).update(saved[2])


@pytest.fixture
def restore_rng():
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


# --------------------------------------------------------------------------------------------
# Element-wise functions


def np_relu(x, alpha=0.0, max_value=None):
    positive = np.maximum(x, 0)
    if max_value is not None:
        positive = np.minimum(positive, max_value)
    return positive - alpha * np.maximum(-x, 0)


UNARY = [
    pytest.param(K.square, np.square, id="square"),
    pytest.param(K.sqrt, lambda x: np.sqrt(np.clip(x, 0, None)), id="sqrt-clips-negatives"),
    pytest.param(K.abs, np.abs, id="abs"),
    pytest.param(K.exp, np.exp, id="exp"),
    pytest.param(lambda t: K.log(K.abs(t)), lambda x: np.log(np.abs(x)), id="log"),
    pytest.param(lambda t: K.pow(t, 3), lambda x: x**3, id="pow"),
    pytest.param(K.sign, np.sign, id="sign"),
    pytest.param(K.sin, np.sin, id="sin"),
    pytest.param(K.cos, np.cos, id="cos"),
    pytest.param(K.tanh, np.tanh, id="tanh"),
    pytest.param(K.sigmoid, np_sigmoid, id="sigmoid"),
    pytest.param(K.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1), id="hard_sigmoid"),
    pytest.param(K.softplus, lambda x: np.log1p(np.exp(x)), id="softplus"),
    pytest.param(K.softsign, lambda x: x / (1 + np.abs(x)), id="softsign"),
    pytest.param(K.softmax, np_softmax, id="softmax"),
    pytest.param(K.relu, np_relu, id="relu"),
    pytest.param(
        lambda t: K.relu(t, alpha=0.1, max_value=1.5),
        lambda x: np_relu(x, 0.1, 1.5),
        id="relu-leaky-capped",
    ),
    pytest.param(K.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), id="elu"),
    pytest.param(
        lambda t: K.elu(t, 0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), id="elu-0.5"
    ),
    pytest.param(lambda t: K.clip(t, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), id="clip"),
    pytest.param(
        lambda t: K.clip(t, 0.5, 0.2), lambda x: np.full_like(x, 0.5), id="clip-max-below-min"
    ),
    pytest.param(lambda t: K.clip(t, -0.5, None), lambda x: np.maximum(x, -0.5), id="clip-no-max"),
    pytest.param(
        lambda t: K.l2_normalize(t, -1),
        lambda x: x / np.sqrt(np.sum(x**2, axis=-1, keepdims=True)),
        id="l2_normalize",
    ),
    pytest.param(
        lambda t: K.l2_normalize(t, 0),
        lambda x: x / np.sqrt(np.sum(x**2, axis=0, keepdims=True)),
        id="l2_normalize-axis0",
    ),
]


@pytest.mark.parametrize("as_numpy", [False, True], ids=["tensor", "numpy"])
@pytest.mark.parametrize(("k_fn", "np_fn"), UNARY)
def test_elementwise_matches_numpy(k_fn, np_fn, as_numpy):
    x = rand(3, 5, scale=2.0)
    check(k_fn(x if as_numpy else torch.from_numpy(x)), np_fn(x))


def test_hard_sigmoid_is_kerass_piecewise_line():
    x = torch.tensor([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0])
    check(K.hard_sigmoid(x), [0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0])


def test_round_halves_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3, -0.7], dtype=np.float32)
    check(K.round(torch.from_numpy(x)), np.round(x))


def test_l2_normalize_keeps_zero_vectors_at_zero():
    check(K.l2_normalize(torch.zeros(2, 3), -1), np.zeros((2, 3)))


def test_sqrt_gradient_is_finite_inside_domain():
    x = torch.tensor([4.0, 9.0], requires_grad=True)
    (grad,) = K.gradients(K.sum(K.sqrt(x)), [x])
    check(grad, 0.5 / np.sqrt([4.0, 9.0]))


COMPARISONS = [
    (K.equal, np.equal),
    (K.not_equal, np.not_equal),
    (K.greater, np.greater),
    (K.greater_equal, np.greater_equal),
    (K.less, np.less),
    (K.less_equal, np.less_equal),
    (K.lesser, np.less),
    (K.lesser_equal, np.less_equal),
    (K.maximum, np.maximum),
    (K.minimum, np.minimum),
]


@pytest.mark.parametrize("y_kind", ["tensor", "numpy", "number"])
@pytest.mark.parametrize(("k_fn", "np_fn"), COMPARISONS, ids=lambda f: f.__name__)
def test_binary_elementwise_matches_numpy(k_fn, np_fn, y_kind):
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, (4, 5)).astype(np.float32)
    y = {
        "tensor": rng.integers(-2, 3, (4, 5)).astype(np.float32),
        "numpy": rng.integers(-2, 3, (4, 5)).astype(np.float64),
        "number": 1.0,
    }[y_kind]
    result = k_fn(torch.from_numpy(x), torch.from_numpy(y) if y_kind == "tensor" else y)
    expected = np_fn(x, y)
    check(result, expected)
    # A float64 array or a Python number must not widen a float32 graph.
    assert result.dtype == (torch.bool if expected.dtype == bool else torch.float32)


# --------------------------------------------------------------------------------------------
# Reductions

REDUCTIONS = [
    (K.sum, np.sum),
    (K.mean, np.mean),
    (K.max, np.max),
    (K.min, np.min),
    (K.prod, np.prod),
    (K.var, np.var),  # numpy's default, like Keras's, is the biased variance
    (K.std, np.std),
    (K.any, np.any),
    (K.all, np.all),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), [1, 2]], ids=str)
@pytest.mark.parametrize(("k_fn", "np_fn"), REDUCTIONS, ids=lambda f: f.__name__)
def test_reductions_match_numpy(k_fn, np_fn, axis, keepdims):
    x = rand(2, 3, 4, scale=0.9)
    if k_fn in (K.any, K.all):
        x = x > 0.5
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    check(
        k_fn(torch.from_numpy(x), axis=axis, keepdims=keepdims),
        np_fn(x, axis=np_axis, keepdims=keepdims),
    )


def test_mean_and_var_of_integers_are_in_floatx():
    x = np.array([[1, 2], [4, 4]], dtype=np.int64)
    result = K.mean(torch.from_numpy(x), axis=0)
    assert result.dtype == torch.float32
    check(result, [2.5, 3.0])
    check(K.var(torch.from_numpy(x)), np.var(x))


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize(("k_fn", "np_fn"), [(K.argmax, np.argmax), (K.argmin, np.argmin)])
def test_argmax_argmin(k_fn, np_fn, axis):
    x = rand(3, 4, 5)
    np.testing.assert_array_equal(k_fn(torch.from_numpy(x), axis).numpy(), np_fn(x, axis=axis))


def test_argmax_defaults_to_last_axis():
    x = rand(3, 4)
    np.testing.assert_array_equal(K.argmax(torch.from_numpy(x)).numpy(), np.argmax(x, -1))


# --------------------------------------------------------------------------------------------
# Shape operations

SHAPE_OPS = [
    ("transpose-2d", (3, 4), K.transpose, np.transpose),
    ("transpose-3d", (2, 3, 4), K.transpose, np.transpose),
    ("reshape", (2, 3, 4), lambda t: K.reshape(t, (4, -1)), lambda x: x.reshape(4, -1)),
    (
        "permute_dimensions",
        (2, 3, 4),
        lambda t: K.permute_dimensions(t, (2, 0, 1)),
        lambda x: x.transpose(2, 0, 1),
    ),
    ("expand_dims", (2, 3), K.expand_dims, lambda x: x[..., None]),
    ("expand_dims-1", (2, 3), lambda t: K.expand_dims(t, 1), lambda x: x[:, None]),
    ("squeeze", (2, 1, 4), lambda t: K.squeeze(t, 1), lambda x: x[:, 0]),
    ("flatten", (2, 3, 4), K.flatten, np.ravel),
    ("batch_flatten", (2, 3, 4), K.batch_flatten, lambda x: x.reshape(2, 12)),
    ("repeat", (2, 3), lambda t: K.repeat(t, 4), lambda x: np.repeat(x[:, None], 4, axis=1)),
    (
        "repeat_elements",
        (2, 3, 4),
        lambda t: K.repeat_elements(t, 2, 1),
        lambda x: np.repeat(x, 2, axis=1),
    ),
    ("tile", (2, 3, 4), lambda t: K.tile(t, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3))),
    ("tile-int", (2, 3), lambda t: K.tile(t, 2), lambda x: np.tile(x, 2)),
    ("reverse", (2, 3, 4), lambda t: K.reverse(t, 1), lambda x: x[:, ::-1]),
    ("reverse-axes", (2, 3, 4), lambda t: K.reverse(t, [0, -1]), lambda x: x[::-1, :, ::-1]),
    (
        "temporal_padding",
        (2, 3, 4),
        lambda t: K.temporal_padding(t, 2),
        lambda x: np.pad(x, ((0, 0), (2, 2), (0, 0))),
    ),
    (
        "asymmetric_temporal_padding",
        (2, 3, 4),
        lambda t: K.asymmetric_temporal_padding(t, 1, 3),
        lambda x: np.pad(x, ((0, 0), (1, 3), (0, 0))),
    ),
    (
        "spatial_2d_padding-th",
        (2, 3, 4, 5),
        lambda t: K.spatial_2d_padding(t, (1, 2), "th"),
        lambda x: np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2))),
    ),
    (
        "spatial_2d_padding-tf",
        (2, 4, 5, 3),
        lambda t: K.spatial_2d_padding(t, (1, 2), "tf"),
        lambda x: np.pad(x, ((0, 0), (1, 1), (2, 2), (0, 0))),
    ),
    (
        "asymmetric_spatial_2d_padding-th",
        (2, 3, 4, 5),
        lambda t: K.asymmetric_spatial_2d_padding(t, 1, 2, 3, 0, "th"),
        lambda x: np.pad(x, ((0, 0), (0, 0), (1, 2), (3, 0))),
    ),
    (
        "spatial_3d_padding-tf",
        (1, 2, 3, 4, 2),
        lambda t: K.spatial_3d_padding(t, (1, 0, 2), "tf"),
        lambda x: np.pad(x, ((0, 0), (1, 1), (0, 0), (2, 2), (0, 0))),
    ),
    (
        "resize_images-th",
        (2, 3, 4, 5),
        lambda t: K.resize_images(t, 2, 3, "th"),
        lambda x: np.repeat(np.repeat(x, 2, axis=2), 3, axis=3),
    ),
    (
        "resize_images-tf",
        (2, 4, 5, 3),
        lambda t: K.resize_images(t, 2, 3, "tf"),
        lambda x: np.repeat(np.repeat(x, 2, axis=1), 3, axis=2),
    ),
    (
        "resize_volumes-th",
        (1, 2, 2, 3, 2),
        lambda t: K.resize_volumes(t, 2, 1, 3, "th"),
        lambda x: np.repeat(np.repeat(x, 2, axis=2), 3, axis=4),
    ),
]


@pytest.mark.parametrize(
    ("shape", "k_fn", "np_fn"), [case[1:] for case in SHAPE_OPS], ids=[c[0] for c in SHAPE_OPS]
)
def test_shape_operations_match_numpy(shape, k_fn, np_fn):
    x = rand(*shape)
    check(k_fn(torch.from_numpy(x)), np_fn(x))


def test_default_dim_ordering_reads_the_setting(restore_settings):
    x = torch.from_numpy(rand(2, 3, 4, 5))
    for ordering in ("th", "tf"):
        K.set_image_dim_ordering(ordering)
        check(K.spatial_2d_padding(x), K.spatial_2d_padding(x, (1, 1), ordering).numpy())
        check(K.resize_images(x, 2, 2, "default"), K.resize_images(x, 2, 2, ordering).numpy())


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_concatenate_and_stack(axis):
    parts = [rand(2, 3, seed=s) for s in range(3)]
    mixed = [torch.from_numpy(parts[0]), parts[1], torch.from_numpy(parts[2])]
    check(K.concatenate(mixed, axis=axis), np.concatenate(parts, axis=axis))
    check(K.stack(mixed), np.stack(parts))


def test_shape_queries():
    x = rand(2, 3, 4)
    t = torch.from_numpy(x)
    assert K.shape(t) == torch.Size(x.shape)
    assert K.int_shape(t) == x.shape
    assert K.get_variable_shape(t) == x.shape
    assert all(type(d) is int for d in K.int_shape(t))
    assert K.ndim(t) == x.ndim
    assert K.count_params(t) == x.size


# --------------------------------------------------------------------------------------------
# Linear algebra and lookups


@pytest.mark.parametrize(
    ("x_shape", "y_shape"),
    [((3, 4), (4, 5)), ((2, 3, 4), (5, 4, 6)), ((2, 3, 4), (4, 6)), ((3, 4), (2, 4, 5))],
    ids=["2d", "3d@3d", "3d@2d", "2d@3d"],
)
def test_dot_is_numpy_dot(x_shape, y_shape):
    x, y = rand(*x_shape, seed=1), rand(*y_shape, seed=2)
    check(K.dot(torch.from_numpy(x), torch.from_numpy(y)), np.dot(x, y), rtol=1e-4, atol=1e-5)


BATCH_DOT = [
    ("keras-doc", (4, 20), (4, 30, 20), (1, 2), (4, 30)),
    ("2d-int-axes", (4, 5), (4, 5), 1, (4, 1)),
    ("default-is-matmul", (4, 3, 5), (4, 5, 6), None, (4, 3, 6)),
    ("int-axes-3d", (4, 3, 5), (4, 6, 5), 2, (4, 3, 6)),
    ("first-axes", (4, 5, 3), (4, 5, 6), (1, 1), (4, 3, 6)),
    ("negative-axes", (4, 3, 5), (4, 6, 5), (-1, -1), (4, 3, 6)),
    ("4d", (4, 2, 3, 5), (4, 5, 6), (3, 1), (4, 2, 3, 6)),
]


@pytest.mark.parametrize(
    ("x_shape", "y_shape", "axes", "out_shape"),
    [case[1:] for case in BATCH_DOT],
    ids=[case[0] for case in BATCH_DOT],
)
def test_batch_dot_matches_per_sample_tensordot(x_shape, y_shape, axes, out_shape):
    x, y = rand(*x_shape, seed=3), rand(*y_shape, seed=4)
    if axes is None:
        np_axes = (x.ndim - 1, y.ndim - 2)
    elif isinstance(axes, int):
        np_axes = (axes, axes)
    else:
        np_axes = tuple(a % n for a, n in zip(axes, (x.ndim, y.ndim), strict=True))
    expected = np.stack(
        [
            np.tensordot(xi, yi, axes=(np_axes[0] - 1, np_axes[1] - 1))
            for xi, yi in zip(x, y, strict=True)
        ]
    ).reshape(out_shape)
    check(K.batch_dot(torch.from_numpy(x), torch.from_numpy(y), axes), expected, rtol=1e-4)


def test_batch_dot_doc_example():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    check(K.batch_dot(x, y, axes=1), [[17.0], [53.0]])


def test_gather_rows():
    ref = rand(5, 3)
    idx = np.array([[0, 4], [2, 2]])
    check(K.gather(torch.from_numpy(ref), torch.from_numpy(idx)), ref[idx])


def test_one_hot_in_floatx():
    idx = np.array([[0, 3, 1], [2, 2, 0]])
    result = K.one_hot(torch.from_numpy(idx), 4)
    assert result.dtype == torch.float32
    check(result, np.eye(4, dtype=np.float32)[idx])


@pytest.mark.parametrize(
    ("args", "expected"),
    [((5,), np.arange(5)), ((-3,), np.arange(0)), ((2, 10, 3), np.arange(2, 10, 3))],
)
def test_arange(args, expected):
    result = K.arange(*args)
    assert result.dtype == torch.int32
    np.testing.assert_array_equal(result.numpy(), expected)


def test_arange_dtype():
    check(K.arange(0, 1, 0.25, dtype="float32"), np.arange(0, 1, 0.25))


def test_in_top_k():
    preds = rand(8, 6, seed=5)
    targets = np.random.default_rng(6).integers(0, 6, 8)
    top2 = np.argsort(-preds, axis=1)[:, :2]
    expected = np.array([t in row for t, row in zip(targets, top2, strict=True)])
    result = K.in_top_k(torch.from_numpy(preds), torch.from_numpy(targets), 2)
    np.testing.assert_array_equal(result.numpy(), expected)
    # Ties at the boundary count as in the top k.
    ties = torch.tensor([[1.0, 1.0, 0.0]])
    assert K.in_top_k(ties, torch.tensor([1]), 1).tolist() == [True]


# --------------------------------------------------------------------------------------------
# Crossentropies


def test_categorical_crossentropy_renormalises_and_clips():
    output = np.array([[0.2, 0.6, 0.2], [0.0, 2.0, 2.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    target = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]], dtype=np.float32)
    probs = np.clip(output / output.sum(-1, keepdims=True), EPS, 1 - EPS)
    expected = -np.sum(target * np.log(probs), axis=-1)
    result = K.categorical_crossentropy(torch.from_numpy(output), torch.from_numpy(target))
    check(result, expected, rtol=1e-5)
    assert np.isclose(expected[1], -np.log(EPS), rtol=1e-5)  # the clip is what keeps it finite


def test_categorical_crossentropy_from_logits_and_its_gradient():
    logits = torch.from_numpy(rand(4, 5)).requires_grad_()
    target = np.eye(5, dtype=np.float32)[[0, 3, 1, 4]]
    z = logits.detach().numpy()
    log_probs = z - np.log(np.exp(z).sum(-1, keepdims=True))
    loss = K.categorical_crossentropy(logits, torch.from_numpy(target), from_logits=True)
    check(loss, -np.sum(target * log_probs, axis=-1))
    (grad,) = K.gradients(loss, [logits])
    check(grad, np_softmax(z) - target)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize(
    ("output_shape", "target_shape"),
    [((4, 5), (4,)), ((4, 5), (4, 1)), ((3, 2, 5), (3, 2, 1))],
    ids=["(b,)", "(b,1)", "(b,t,1)"],
)
def test_sparse_categorical_crossentropy(output_shape, target_shape, from_logits):
    rng = np.random.default_rng(7)
    output = rng.uniform(0.0, 1.0, output_shape).astype(np.float32)
    classes = rng.integers(0, output_shape[-1], target_shape)
    if from_logits:
        log_probs = np.log(np_softmax(output))
    else:
        log_probs = np.log(np.clip(output / output.sum(-1, keepdims=True), EPS, 1 - EPS))
    one_hot = np.eye(output_shape[-1])[classes.reshape(output_shape[:-1])]
    expected = -np.sum(one_hot * log_probs, axis=-1)
    # Keras feeds targets as floatx, so float class indices must work.
    targets = torch.from_numpy(classes.astype(np.float32))
    result = K.sparse_categorical_crossentropy(torch.from_numpy(output), targets, from_logits)
    check(result, expected, rtol=1e-5)


def test_binary_crossentropy_clips_and_is_elementwise():
    output = np.array([[0.0, 0.3, 1.0], [0.9, 0.5, 0.01]], dtype=np.float32)
    target = np.array([[1.0, 0.0, 0.0], [1.0, 0.5, 0.0]], dtype=np.float32)
    p = np.clip(output, EPS, 1 - EPS)
    expected = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    check(K.binary_crossentropy(torch.from_numpy(output), torch.from_numpy(target)), expected)
    assert np.isfinite(expected).all() and expected[0, 0] > 15  # log(1e-7) = -16.1


def test_binary_crossentropy_from_logits():
    logits = rand(3, 4, scale=3.0)
    target = np.random.default_rng(8).uniform(0, 1, (3, 4)).astype(np.float32)
    p = np_sigmoid(logits.astype(np.float64))
    expected = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    result = K.binary_crossentropy(torch.from_numpy(logits), target, from_logits=True)
    check(result, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize(
    ("shape", "axes", "features"),
    [((4, 3, 2, 2), [0, 2, 3], (3,)), ((4, 3, 2, 2), [0, 1, 2], (2,)), ((6, 5), [0], (5,))],
    ids=["channels-first", "channels-last", "dense"],
)
def test_normalize_batch_in_training(shape, axes, features):
    x = rand(*shape, seed=9, scale=2.0) + 1.0
    gamma, beta = rand(*features, seed=10), rand(*features, seed=11)
    mean, var = x.mean(axis=tuple(axes)), x.var(axis=tuple(axes))
    kept = [1 if d in axes else n for d, n in enumerate(shape)]
    expected = (x - mean.reshape(kept)) / np.sqrt(var.reshape(kept) + 1e-3) * gamma.reshape(
        kept
    ) + beta.reshape(kept)
    normed, k_mean, k_var = K.normalize_batch_in_training(
        torch.from_numpy(x), torch.from_numpy(gamma), torch.from_numpy(beta), axes
    )
    check(normed, expected, rtol=1e-4, atol=1e-5)
    check(k_mean, mean, rtol=1e-5)
    check(k_var, var, rtol=1e-5)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_normalization(affine):
    x = rand(4, 5, seed=12)
    mean, var = rand(5, seed=13), np.abs(rand(5, seed=14))
    beta, gamma = (rand(5, seed=15), rand(5, seed=16)) if affine else (None, None)
    expected = (x - mean) / np.sqrt(var + 0.01)
    if affine:
        expected = expected * gamma + beta
    result = K.batch_normalization(torch.from_numpy(x), mean, var, beta, gamma, epsilon=0.01)
    check(result, expected, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# Variables, values and updates


def test_variable_is_a_float_parameter_holding_a_copy():
    value = np.arange(6, dtype=np.float64).reshape(2, 3)
    v = K.variable(value, name="dense_1_W")
    assert isinstance(v, torch.nn.Parameter)
    assert v.requires_grad
    assert v.dtype == torch.float32
    assert v.device.type == "cpu"
    assert v._keras_name == "dense_1_W"
    check(v, value)
    value[0, 0] = 100.0
    assert v[0, 0].item() == 0.0
    assert not hasattr(K.variable(1.0), "_keras_name")


def test_variable_dtypes(restore_settings):
    assert K.variable([1, 2], dtype="float64").dtype == torch.float64
    counter = K.variable(0, dtype="int64")
    assert counter.dtype == torch.int64 and not counter.requires_grad
    K.set_floatx("float64")
    assert K.variable([1.0]).dtype == torch.float64
    assert K.zeros(2).dtype == torch.float64


@pytest.mark.parametrize(
    ("k_fn", "np_fn", "arg"),
    [
        (K.zeros, np.zeros, (2, 3)),
        (K.zeros, np.zeros, 4),
        (K.ones, np.ones, (3, 1, 2)),
        (K.eye, np.eye, 3),
    ],
)
def test_constant_variables(k_fn, np_fn, arg):
    v = k_fn(arg, dtype="float64", name="w")
    assert isinstance(v, torch.nn.Parameter) and v.requires_grad
    assert v.dtype == torch.float64 and v._keras_name == "w"
    check(v, np_fn(arg))


@pytest.mark.parametrize("k_fn", [K.zeros_like, K.ones_like])
def test_zeros_like_ones_like_keep_dtype(k_fn):
    x = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    expected = np.zeros((2, 3)) if k_fn is K.zeros_like else np.ones((2, 3))
    assert k_fn(x).dtype == torch.int32
    check(k_fn(x), expected)
    assert k_fn(x, dtype="float16").dtype == torch.float16


@pytest.mark.parametrize(
    "name", ["float16", "float32", "float64", "int32", "int64", "bool", "uint8"]
)
def test_cast_and_dtype_names(name):
    x = np.array([[0.0, 1.7], [-2.2, 3.0]], dtype=np.float32)
    if name == "uint8":
        x = np.abs(x)
    result = K.cast(torch.from_numpy(x), name)
    assert K.dtype(result) == name
    np.testing.assert_array_equal(result.numpy(), x.astype(name))
    assert K.cast(x, getattr(torch, name)).dtype == getattr(torch, name)


def test_get_value_is_a_detached_copy():
    v = K.variable(np.ones((2, 2)))
    value = K.get_value(v)
    assert isinstance(value, np.ndarray) and value.dtype == np.float32
    K.set_value(v, np.zeros((2, 2)))
    np.testing.assert_array_equal(value, np.ones((2, 2)))
    np.testing.assert_array_equal(K.eval(v), np.zeros((2, 2)))
    assert K.get_value(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32


def test_set_value_on_a_parameter_keeps_it_trainable():
    v = K.variable(np.zeros((2, 3)))
    new = rand(2, 3)
    K.set_value(v, new)
    check(v, new)
    assert isinstance(v, torch.nn.Parameter) and v.is_leaf and v.requires_grad
    (grad,) = K.gradients(K.sum(v * 2.0), [v])
    check(grad, np.full((2, 3), 2.0))


def test_set_value_on_a_0d_tensor():
    lr = torch.tensor(0.01)
    K.set_value(lr, 0.5)
    assert lr.item() == 0.5
    lr_var = K.variable(0.01)
    K.set_value(lr_var, np.float64(0.25))
    assert lr_var.item() == 0.25 and lr_var.dtype == torch.float32


def test_batch_get_and_set_value():
    a, b = K.variable(np.zeros(2)), K.variable(np.zeros((1, 2)))
    K.batch_set_value([(a, [1.0, 2.0]), (b, [[3.0, 4.0]])])
    got = K.batch_get_value([a, b])
    np.testing.assert_array_equal(got[0], [1.0, 2.0])
    np.testing.assert_array_equal(got[1], [[3.0, 4.0]])


@pytest.mark.parametrize(
    ("k_fn", "np_fn"),
    [
        (K.update, lambda v, d: d),
        (K.update_add, lambda v, d: v + d),
        (K.update_sub, lambda v, d: v - d),
        (lambda x, d: K.moving_average_update(x, d, 0.9), lambda v, d: v * 0.9 + d * 0.1),
    ],
    ids=["update", "update_add", "update_sub", "moving_average_update"],
)
def test_updates_are_in_place_and_outside_autograd(k_fn, np_fn):
    start, delta = rand(2, 3, seed=17), rand(2, 3, seed=18)
    v = K.variable(start)
    result = k_fn(v, torch.from_numpy(delta).requires_grad_())
    assert result is v
    assert v.is_leaf and v.grad_fn is None
    check(v, np_fn(start, delta))


def test_print_tensor_prints_and_passes_through(capsys):
    x = torch.tensor([1.0, 2.0])
    assert K.print_tensor(x, "x = ") is x
    assert capsys.readouterr().out == f"x = {np.array([1.0, 2.0], dtype=np.float32)}\n"


# --------------------------------------------------------------------------------------------
# Gradients


def test_gradients_match_the_analytic_ones_and_are_differentiable():
    w_value, x_value = rand(3, seed=19), rand(3, seed=20)
    w, unused = K.variable(w_value), K.variable(1.0)
    loss = K.square(w) * torch.from_numpy(x_value)  # not a scalar: summed, as TensorFlow does
    grad_w, grad_unused = K.gradients(loss, [w, unused])
    check(grad_w, 2 * w_value * x_value)
    assert grad_unused is None
    (second,) = K.gradients(K.sum(grad_w), [w])
    check(second, 2 * x_value)


def test_stop_gradient():
    w_value = rand(3, seed=21)
    w = K.variable(w_value)
    (grad,) = K.gradients(K.sum(K.stop_gradient(w) * w), [w])
    check(grad, w_value)
    assert all(not t.requires_grad for t in K.stop_gradient([w, w * 2]))


# --------------------------------------------------------------------------------------------
# Randomness and dropout


def test_dropout_scales_kept_units_and_drops_the_right_fraction():
    level = 0.3
    x = torch.ones(200, 500)
    y = K.dropout(x, level, seed=1).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - level), rtol=1e-6)
    assert abs(kept.mean() - (1 - level)) < 0.01  # 100k draws: sigma is 0.0015
    assert abs(y.mean() - 1.0) < 0.02  # inverted scaling keeps the expectation


def test_dropout_seed_noise_shape_and_rng(restore_rng):
    x = torch.from_numpy(rand(200, 8))
    rng_before = torch.get_rng_state()
    first, again = K.dropout(x, 0.5, seed=3), K.dropout(x, 0.5, seed=3)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert torch.equal(first, again)
    assert not torch.equal(first, K.dropout(x, 0.5, seed=4))
    shared = K.dropout(x, 0.5, noise_shape=(200, 1), seed=5).numpy()
    kept_rows = shared[:, 0] != 0
    check(torch.from_numpy(shared), np.where(kept_rows[:, None], x.numpy() * 2, 0.0))
    check(K.dropout(x, 0.0), x.numpy())


RANDOM = [
    ("uniform", lambda **kw: K.random_uniform(low=-1.0, high=3.0, **kw), 1.0, 4 / np.sqrt(12)),
    ("normal", lambda **kw: K.random_normal(mean=2.0, std=0.5, **kw), 2.0, 0.5),
    ("binomial", lambda **kw: K.random_binomial(p=0.3, **kw), 0.3, np.sqrt(0.3 * 0.7)),
]


@pytest.mark.parametrize(
    ("draw", "mean", "std"), [r[1:] for r in RANDOM], ids=[r[0] for r in RANDOM]
)
def test_random_statistics_and_seeds(draw, mean, std, restore_rng):
    rng_before = torch.get_rng_state()
    sample = draw(shape=(100, 200), seed=7)
    assert torch.equal(torch.get_rng_state(), rng_before)  # a seed leaves the global RNG alone
    assert sample.shape == (100, 200) and sample.dtype == torch.float32
    assert sample.device == K.device()
    assert torch.equal(sample, draw(shape=(100, 200), seed=7))
    assert not torch.equal(sample, draw(shape=(100, 200), seed=8))
    values = sample.numpy().astype(np.float64)
    assert abs(values.mean() - mean) < 5 * std / np.sqrt(values.size)
    assert abs(values.std() - std) < 0.02 * std
    torch.manual_seed(0)
    unseeded = draw(shape=5)
    torch.manual_seed(0)
    assert torch.equal(unseeded, draw(shape=5))  # no seed: the global RNG
    assert draw(shape=torch.Size([2, 3]), dtype="float64").dtype == torch.float64


def test_random_ranges():
    assert set(np.unique(K.random_binomial((50, 50), p=0.5, dtype="int32", seed=1).numpy())) == {
        0,
        1,
    }
    assert K.random_binomial((10,), p=0.0, seed=1).sum().item() == 0
    assert K.random_binomial((10,), p=1.0, seed=1).sum().item() == 10
    uniform = K.random_uniform((1000,), -2.0, -1.0, seed=2).numpy()
    assert uniform.min() >= -2.0 and uniform.max() < -1.0


# --------------------------------------------------------------------------------------------
# Learning phase and control flow


def test_in_train_phase_and_in_test_phase(restore_settings):
    calls = []

    def branch(name):
        def build():
            calls.append(name)
            return name

        return build

    K.set_learning_phase(1)
    assert K.in_train_phase("train", "test") == "train"
    assert K.in_test_phase("test", "train") == "train"
    assert K.in_train_phase(branch("train"), branch("test")) == "train"
    K.set_learning_phase(0)
    assert K.in_train_phase("train", "test") == "test"
    assert K.in_test_phase("test", "train") == "test"
    assert K.in_train_phase(branch("train"), branch("test")) == "test"
    assert calls == ["train", "test"]  # the branch not chosen was never built


def test_switch():
    cond = np.array([[True, False], [False, True]])
    a, b = rand(2, 2, seed=22), rand(2, 2, seed=23)
    check(K.switch(torch.from_numpy(cond), torch.from_numpy(a), b), np.where(cond, a, b))
    check(K.switch(torch.from_numpy(cond.astype(np.float32)), a, 0.0), np.where(cond, a, 0.0))
    assert K.switch(True, lambda: "then", lambda: 1 / 0) == "then"
    assert K.switch(0, "then", "else") == "else"


# --------------------------------------------------------------------------------------------
# Errors


def _t(*shape):
    return torch.zeros(shape)


ERRORS = [
    (lambda: K.cast(_t(2), "floatt32"), ValueError, "cast: dtype .*'floatt32'"),
    (lambda: K.cast(_t(2), "zeros"), ValueError, "cast: dtype .*'zeros'"),
    (lambda: K.variable([1.0], dtype="real"), ValueError, "variable: dtype"),
    (lambda: K.variable("abc"), TypeError, "variable: expected a torch.Tensor"),
    (lambda: K.exp("abc"), TypeError, "exp: expected a torch.Tensor, numpy array or number"),
    (lambda: K.zeros((2, -1)), ValueError, r"zeros: shape must be .* got \(2, -1\)"),
    (lambda: K.ones("ab"), ValueError, "ones: shape"),
    (lambda: K.eye((2, 3)), ValueError, "eye: size must be a non-negative int"),
    (lambda: K.random_normal((2,), dtype="int32"), ValueError, "random_normal: dtype must be a"),
    (lambda: K.sum(_t(2, 3), axis=2), ValueError, "sum: axis 2 is out of range for a 2D"),
    (lambda: K.squeeze(_t(2, 3), 1), ValueError, "squeeze: axis 1 has size 3, expected 1"),
    (lambda: K.repeat(_t(2, 3, 4), 2), ValueError, r"repeat: x must be 2D .* \(2, 3, 4\)"),
    (lambda: K.gather(_t(3, 2), _t(2)), TypeError, "gather: indices must be integers"),
    (lambda: K.one_hot(_t(2), 3), TypeError, "one_hot: indices must be integers"),
    (lambda: K.dropout(_t(2), 1.0), ValueError, r"dropout: level must be in \[0, 1\), got 1.0"),
    (lambda: K.dropout(_t(2), -0.1), ValueError, "dropout: level"),
    (lambda: K.batch_dot(_t(2, 3, 4), _t(2, 3, 4), (0, 1)), ValueError, "batch_dot: axes"),
    (lambda: K.batch_dot(_t(2, 3), _t(2, 3)), ValueError, "batch_dot: axes must not include"),
    (lambda: K.batch_dot(_t(2), _t(2, 3)), ValueError, "batch_dot: x and y must have at least"),
    (lambda: K.spatial_2d_padding(_t(1, 2, 3, 4), dim_ordering="nchw"), ValueError, "'nchw'"),
    (lambda: K.spatial_2d_padding(_t(2, 3, 4)), ValueError, "spatial_2d_padding: expected a 4D"),
    (lambda: K.resize_images(_t(1, 2, 3), 2, 2, "th"), ValueError, "resize_images: expected"),
    (lambda: K.set_value(np.zeros(2), [1, 2]), TypeError, "set_value: x must be a torch.Tensor"),
    (lambda: K.set_value(_t(2, 2), np.zeros(3)), ValueError, r"set_value: value has shape \(3,\)"),
    (lambda: K.update_add(_t(2), _t(3, 2)), ValueError, "update_add: value has shape"),
    (
        lambda: K.sparse_categorical_crossentropy(_t(4, 3), _t(5)),
        ValueError,
        r"sparse_categorical_crossentropy: target must hold one class index per row .* \(5,\)",
    ),
    (lambda: K.gradients(_t(2).sum(), [_t(1)]), ValueError, "gradients: loss must be"),
]


@pytest.mark.parametrize(("call", "error", "match"), ERRORS)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------------------------
# Devices


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_results_stay_on_the_device_of_their_inputs():
    x = torch.rand(4, 3, device="cuda")
    numpy_operand = np.ones((4, 3), dtype=np.float64)
    assert K.maximum(x, numpy_operand).device == x.device
    assert K.binary_crossentropy(x, numpy_operand).device == x.device
    assert K.dropout(x, 0.5, seed=1).device == x.device
    assert K.gather(x, np.array([0, 2])).device == x.device
    v = K.variable(torch.zeros(4, 3, device="cuda"))
    K.set_value(v, numpy_operand)
    check(v, numpy_operand)


def test_set_value_keeps_float64_precision():
    """A float64 hyperparameter (an optimizer's lr) must not pass through float32."""
    lr = torch.tensor(0.5, dtype=torch.float64)
    K.set_value(lr, 0.1)
    assert K.get_value(lr) == 0.1
