"""Convolutions and shape layers against numpy references written out loop by loop.

Every numeric test goes through ``check_layer``: the reference receives the input and
``layer.get_weights()`` in Keras 1's layout, so matching it also proves the layout.
Weights are passed in with ``weights=`` (shapes written out here, per Keras 1) so that
biases are not zero.
"""

from __future__ import annotations

import numpy as np
import pytest

from lamella.conv.convolutional import (
    AtrousConvolution1D,
    AtrousConvolution2D,
    Convolution1D,
    Convolution2D,
    Convolution3D,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Deconvolution2D,
    SeparableConvolution2D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from lamella.testing import check_layer

MODES = ["valid", "same", "full"]


def random(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def keras_pads(length: int, span: int, stride: int, mode: str) -> tuple[int, int]:
    """Padding of one axis: 'same' keeps ceil(L / stride) outputs, odd cell at the end."""
    if mode == "valid":
        return (0, 0)
    if mode == "full":
        return (span - 1, span - 1)
    outputs = -(-length // stride)
    total = max((outputs - 1) * stride + span - length, 0)
    return (total // 2, total - total // 2)


def conv_reference(x, kernel, bias, strides, dilation, mode):
    """x (batch, *spatial, in) and kernel (*taps, in, out): sum over taps per output cell."""
    rank = x.ndim - 2
    taps = kernel.shape[:rank]
    spans = [d * (k - 1) + 1 for k, d in zip(taps, dilation, strict=True)]
    pads = [
        keras_pads(n, sp, s, mode) for n, sp, s in zip(x.shape[1:-1], spans, strides, strict=True)
    ]
    padded = np.pad(x.astype("float64"), [(0, 0), *pads, (0, 0)])
    out = [(padded.shape[1 + i] - spans[i]) // strides[i] + 1 for i in range(rank)]
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]))
    for cell in np.ndindex(*out):
        for tap in np.ndindex(*taps):
            source = tuple(
                c * s + t * d for c, t, s, d in zip(cell, tap, strides, dilation, strict=True)
            )
            y[(slice(None), *cell)] += padded[(slice(None), *source)] @ kernel[tap]
    return y if bias is None else y + bias


def channels_last(x):
    return np.moveaxis(x, 1, -1)


def channels_first(y):
    return np.moveaxis(y, -1, 1)


def th_kernel_as_tf(kernel):
    """A 'th' kernel (out, in, *taps) in 'tf' layout (*taps, in, out)."""
    rank = kernel.ndim - 2
    return np.transpose(kernel, (*range(2, 2 + rank), 1, 0))


def run_conv(x, kernel, bias, ordering, **geometry):
    """conv_reference for either ordering, kernel in that ordering's Keras layout."""
    if ordering == "th":
        return channels_first(
            conv_reference(channels_last(x), th_kernel_as_tf(kernel), bias, **geometry)
        )
    return conv_reference(x, kernel, bias, **geometry)


def image_shape(ordering, batch, channels, *sizes):
    return (batch, channels, *sizes) if ordering == "th" else (batch, *sizes, channels)


# -- convolutions ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("length", [2, 3])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("rate", [None, 2])
def test_convolution_1d(mode, length, stride, rate):
    kernel, bias = random(length, 1, 3, 4), random(4, seed=2)  # (filter_length, 1, in, out)
    kwargs = {
        "nb_filter": 4,
        "filter_length": length,
        "border_mode": mode,
        "subsample_length": stride,
        "weights": [kernel, bias],
    }
    cls = Convolution1D
    if rate is not None:
        cls, kwargs["atrous_rate"] = AtrousConvolution1D, rate

    def reference(x, weights):
        w, b = weights
        return conv_reference(x, w[:, 0], b, strides=(stride,), dilation=(rate or 1,), mode=mode)

    check_layer(cls, kwargs, input_shape=(2, 9, 3), reference=reference)


@pytest.mark.parametrize("ordering", ["th", "tf"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [(3, 3), (2, 4)])
@pytest.mark.parametrize("stride", [(1, 1), (2, 2)])
@pytest.mark.parametrize("rate", [None, (2, 1)])
def test_convolution_2d(ordering, mode, size, stride, rate):
    rows, cols = size
    shape = (4, 3, rows, cols) if ordering == "th" else (rows, cols, 3, 4)
    kwargs = {
        "nb_filter": 4,
        "nb_row": rows,
        "nb_col": cols,
        "border_mode": mode,
        "subsample": stride,
        "dim_ordering": ordering,
        "weights": [random(*shape), random(4, seed=2)],
    }
    cls = Convolution2D
    if rate is not None:
        cls, kwargs["atrous_rate"] = AtrousConvolution2D, rate

    def reference(x, weights):
        return run_conv(x, *weights, ordering, strides=stride, dilation=rate or (1, 1), mode=mode)

    check_layer(cls, kwargs, input_shape=image_shape(ordering, 2, 3, 6, 7), reference=reference)


@pytest.mark.parametrize("ordering", ["th", "tf"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stride", [(1, 1, 1), (2, 1, 2)])
def test_convolution_3d(ordering, mode, stride):
    size = (2, 3, 2)
    shape = (3, 2, *size) if ordering == "th" else (*size, 2, 3)
    kwargs = {
        "nb_filter": 3,
        "kernel_dim1": 2,
        "kernel_dim2": 3,
        "kernel_dim3": 2,
        "border_mode": mode,
        "subsample": stride,
        "dim_ordering": ordering,
        "weights": [random(*shape), random(3, seed=2)],
    }

    def reference(x, weights):
        return run_conv(x, *weights, ordering, strides=stride, dilation=(1, 1, 1), mode=mode)

    check_layer(
        Convolution3D, kwargs, input_shape=image_shape(ordering, 2, 2, 4, 5, 3), reference=reference
    )


def test_convolution_without_bias_has_one_weight():
    check_layer(
        Convolution2D,
        {"nb_filter": 2, "nb_row": 2, "nb_col": 2, "bias": False, "dim_ordering": "th"},
        input_shape=(1, 3, 4, 4),
        weights_count=1,
        reference=lambda x, w: run_conv(
            x, w[0], None, "th", strides=(1, 1), dilation=(1, 1), mode="valid"
        ),
    )


def test_same_padding_puts_the_odd_cell_at_the_end():
    """An even kernel of ones: output t sums x[t] and x[t + 1], the last one x[-1] alone."""
    x = np.arange(1, 5, dtype="float32").reshape(1, 4, 1)
    weights = [np.ones((2, 1, 1, 1), "float32"), np.zeros(1, "float32")]
    check_layer(
        Convolution1D,
        {"nb_filter": 1, "filter_length": 2, "border_mode": "same", "weights": weights},
        input_data=x,
        expected_output=np.array([[[3.0], [5.0], [7.0], [4.0]]]),
    )


@pytest.mark.parametrize("ordering", ["th", "tf"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stride", [(1, 1), (2, 1)])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_separable_convolution_2d(ordering, mode, stride, multiplier):
    channels, filters, rows, cols = 3, 4, 3, 2
    if ordering == "th":
        shapes = [(multiplier, channels, rows, cols), (filters, multiplier * channels, 1, 1)]
    else:
        shapes = [(rows, cols, channels, multiplier), (1, 1, multiplier * channels, filters)]
    kwargs = {
        "nb_filter": filters,
        "nb_row": rows,
        "nb_col": cols,
        "border_mode": mode,
        "subsample": stride,
        "depth_multiplier": multiplier,
        "dim_ordering": ordering,
        "weights": [random(*shapes[0]), random(*shapes[1], seed=2), random(filters, seed=3)],
    }

    def reference(x, weights):
        depthwise, pointwise, bias = weights
        if ordering == "th":
            x = channels_last(x)
            depthwise = np.transpose(depthwise, (2, 3, 1, 0))  # -> (rows, cols, in, mult)
            pointwise = pointwise[:, :, 0, 0].T  # -> (mult * in, out)
        else:
            pointwise = pointwise[0, 0]
        # depthwise channel c * multiplier + m filters input channel c alone
        stacked = [
            conv_reference(
                x[..., c : c + 1],
                depthwise[:, :, c : c + 1, m : m + 1],
                None,
                strides=stride,
                dilation=(1, 1),
                mode=mode,
            )
            for c in range(channels)
            for m in range(multiplier)
        ]
        y = np.concatenate(stacked, axis=-1) @ pointwise + bias
        return channels_first(y) if ordering == "th" else y

    check_layer(
        SeparableConvolution2D,
        kwargs,
        input_shape=image_shape(ordering, 2, channels, 6, 5),
        reference=reference,
    )


def deconv_reference(x, kernel, bias, out_sizes, strides, mode):
    """x (batch, *spatial, in), kernel (*taps, in, out): each input cell spreads its taps."""
    taps = kernel.shape[:2]
    before = [
        keras_pads(n, k, s, mode)[0] for n, k, s in zip(out_sizes, taps, strides, strict=True)
    ]
    y = np.zeros((x.shape[0], *out_sizes, kernel.shape[-1]))
    for cell in np.ndindex(*x.shape[1:-1]):
        for tap in np.ndindex(*taps):
            target = [c * s + t - b for c, t, s, b in zip(cell, tap, strides, before, strict=True)]
            if all(0 <= i < n for i, n in zip(target, out_sizes, strict=True)):
                y[(slice(None), *target)] += x[(slice(None), *cell)] @ kernel[tap]
    return y + bias


def conv_length(length, kernel, stride, mode):
    """Keras 1's output length, for choosing deconvolution output sizes."""
    effective = {"valid": length - kernel + 1, "same": length, "full": length + kernel - 1}
    return -(-effective[mode] // stride)


@pytest.mark.parametrize("ordering", ["th", "tf"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [(3, 3), (2, 3)])
@pytest.mark.parametrize("stride", [(1, 1), (2, 2)])
@pytest.mark.parametrize("pick", [min, max])
def test_deconvolution_2d(ordering, mode, size, stride, pick):
    """Output sizes: the smallest or largest that the convolution maps back to the input."""
    inputs = (4, 3)
    out_sizes = tuple(
        pick(n for n in range(1, 16) if conv_length(n, k, s, mode) == m)
        for m, k, s in zip(inputs, size, stride, strict=True)
    )
    rows, cols = size
    shape = (2, 3, rows, cols) if ordering == "th" else (rows, cols, 3, 2)
    kwargs = {
        "nb_filter": 2,
        "nb_row": rows,
        "nb_col": cols,
        "border_mode": mode,
        "output_shape": image_shape(ordering, None, 2, *out_sizes),
        "subsample": stride,
        "dim_ordering": ordering,
        "weights": [random(*shape), random(2, seed=2)],
    }

    def reference(x, weights):
        kernel, bias = weights
        if ordering == "th":
            y = deconv_reference(
                channels_last(x), th_kernel_as_tf(kernel), bias, out_sizes, stride, mode
            )
            return channels_first(y)
        return deconv_reference(x, kernel, bias, out_sizes, stride, mode)

    check_layer(
        Deconvolution2D,
        kwargs,
        input_shape=image_shape(ordering, 2, 3, *inputs),
        reference=reference,
    )


# -- up-sampling, zero-padding, cropping -------------------------------------------------


def repeat_cells(x, axes, factors):
    """Output cell i of each axis reads input cell i // factor."""
    for axis, factor in zip(axes, factors, strict=True):
        x = np.take(x, np.arange(x.shape[axis] * factor) // factor, axis=axis)
    return x


def zero_pad(x, pads):
    """Copy x into the middle of a zero array; pads holds (before, after) per axis."""
    y = np.zeros([n + b + a for n, (b, a) in zip(x.shape, pads, strict=True)], x.dtype)
    y[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, pads, strict=True))] = x
    return y


NONE = (0, 0)  # an axis left alone
SHAPE_CASES = [
    (UpSampling1D, {}, (2, 3, 4), lambda x: repeat_cells(x, [1], [2])),
    (UpSampling1D, {"length": 3}, (2, 3, 4), lambda x: repeat_cells(x, [1], [3])),
    (
        UpSampling2D,
        {"size": (2, 3), "dim_ordering": "th"},
        (2, 3, 2, 4),
        lambda x: repeat_cells(x, [2, 3], [2, 3]),
    ),
    (
        UpSampling2D,
        {"size": (3, 2), "dim_ordering": "tf"},
        (2, 2, 4, 3),
        lambda x: repeat_cells(x, [1, 2], [3, 2]),
    ),
    (
        UpSampling3D,
        {"dim_ordering": "th"},
        (1, 2, 2, 3, 2),
        lambda x: repeat_cells(x, [2, 3, 4], [2, 2, 2]),
    ),
    (
        UpSampling3D,
        {"size": (1, 2, 3), "dim_ordering": "tf"},
        (1, 2, 3, 2, 2),
        lambda x: repeat_cells(x, [1, 2, 3], [1, 2, 3]),
    ),
    (ZeroPadding1D, {}, (2, 3, 4), lambda x: zero_pad(x, [NONE, (1, 1), NONE])),
    (ZeroPadding1D, {"padding": (0, 2)}, (2, 3, 4), lambda x: zero_pad(x, [NONE, (0, 2), NONE])),
    (
        ZeroPadding1D,
        {"padding": {"left_pad": 3}},
        (2, 3, 4),
        lambda x: zero_pad(x, [NONE, (3, 0), NONE]),
    ),
    (
        ZeroPadding2D,
        {"dim_ordering": "th"},
        (2, 3, 4, 5),
        lambda x: zero_pad(x, [NONE, NONE, (1, 1), (1, 1)]),
    ),
    (
        ZeroPadding2D,
        {"padding": (1, 2, 0, 3), "dim_ordering": "tf"},
        (2, 4, 5, 3),
        lambda x: zero_pad(x, [NONE, (1, 2), (0, 3), NONE]),
    ),
    (
        ZeroPadding2D,
        {"padding": {"bottom_pad": 2, "left_pad": 1}, "dim_ordering": "th"},
        (2, 3, 4, 5),
        lambda x: zero_pad(x, [NONE, NONE, (0, 2), (1, 0)]),
    ),
    (
        ZeroPadding3D,
        {"padding": (1, 0, 2), "dim_ordering": "tf"},
        (1, 2, 3, 2, 2),
        lambda x: zero_pad(x, [NONE, (1, 1), (0, 0), (2, 2), NONE]),
    ),
    (Cropping1D, {}, (2, 5, 3), lambda x: x[:, 1:4]),
    (Cropping1D, {"cropping": (0, 2)}, (2, 5, 3), lambda x: x[:, 0:3]),
    (
        Cropping2D,
        {"cropping": ((1, 0), (2, 1)), "dim_ordering": "th"},
        (2, 3, 4, 5),
        lambda x: x[:, :, 1:, 2:4],
    ),
    (
        Cropping2D,
        {"cropping": ((0, 1), (1, 1)), "dim_ordering": "tf"},
        (2, 4, 5, 3),
        lambda x: x[:, 0:3, 1:4, :],
    ),
    (Cropping3D, {"dim_ordering": "th"}, (1, 2, 3, 4, 5), lambda x: x[:, :, 1:2, 1:3, 1:4]),
    (
        Cropping3D,
        {"cropping": ((0, 1), (1, 0), (0, 0)), "dim_ordering": "tf"},
        (1, 3, 4, 2, 2),
        lambda x: x[:, 0:2, 1:4, :, :],
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape", "expected"), SHAPE_CASES)
def test_shape_layers(cls, kwargs, shape, expected):
    check_layer(cls, kwargs, input_shape=shape, reference=lambda x, _: expected(x))
