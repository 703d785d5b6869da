"""Pooling layers against numpy references: each window reduced by an explicit loop."""

from __future__ import annotations

import numpy as np
import pytest

from lamella.conv.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from lamella.testing import check_layer

REDUCE = {"max": np.nanmax, "average": np.nanmean}


def same_pads(length: int, size: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same': enough cells for ceil(L / stride) windows, the odd one last."""
    total = max((-(-length // stride) - 1) * stride + size - length, 0)
    return (total // 2, total - total // 2)


def pool_reference(x, size, strides, mode, kind):
    """x (batch, *spatial, channels); padded cells are NaN, which nanmax/nanmean skip."""
    rank = x.ndim - 2
    pads = [
        same_pads(n, k, s) if mode == "same" else (0, 0)
        for n, k, s in zip(x.shape[1:-1], size, strides, strict=True)
    ]
    padded = np.pad(x.astype("float64"), [(0, 0), *pads, (0, 0)], constant_values=np.nan)
    out = [(padded.shape[1 + i] - size[i]) // strides[i] + 1 for i in range(rank)]
    y = np.empty((x.shape[0], *out, x.shape[-1]))
    for cell in np.ndindex(*out):
        window = padded[
            (
                slice(None),
                *(slice(c * s, c * s + k) for c, s, k in zip(cell, strides, size, strict=True)),
            )
        ]
        y[(slice(None), *cell)] = REDUCE[kind](window.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return y


def in_ordering(reference, ordering):
    """Run a channels-last reference on 'th' data by moving the channel axis."""
    if ordering == "tf":
        return reference
    return lambda x: np.moveaxis(reference(np.moveaxis(x, 1, -1)), -1, 1)


CLASSES = {
    ("max", 1): MaxPooling1D,
    ("average", 1): AveragePooling1D,
    ("max", 2): MaxPooling2D,
    ("average", 2): AveragePooling2D,
    ("max", 3): MaxPooling3D,
    ("average", 3): AveragePooling3D,
}


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("length", [2, 3])
@pytest.mark.parametrize("stride", [None, 1, 2])
def test_pooling_1d(kind, mode, length, stride):
    kwargs = {"pool_length": length, "stride": stride, "border_mode": mode}
    steps = stride or length
    check_layer(
        CLASSES[kind, 1],
        kwargs,
        input_shape=(2, 7, 3),
        reference=lambda x, _: pool_reference(x, (length,), (steps,), mode, kind),
    )


@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("ordering", ["th", "tf"])
@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize(
    ("rank", "size", "strides", "spatial"),
    [
        (2, (2, 2), None, (5, 6)),
        (2, (3, 2), (1, 2), (5, 6)),
        (3, (2, 2, 2), None, (3, 4, 5)),
        (3, (2, 3, 1), (1, 2, 1), (3, 4, 2)),
    ],
)
def test_pooling_nd(kind, ordering, mode, rank, size, strides, spatial):
    kwargs = {"pool_size": size, "strides": strides, "border_mode": mode, "dim_ordering": ordering}
    shape = (2, 3, *spatial) if ordering == "th" else (2, *spatial, 3)
    reference = in_ordering(
        lambda x: pool_reference(x, size, strides or size, mode, kind), ordering
    )
    check_layer(CLASSES[kind, rank], kwargs, input_shape=shape, reference=lambda x, _: reference(x))


@pytest.mark.parametrize(
    ("size", "stride", "expected"),
    [
        (2, 2, [1.5, 3.0]),  # the second window holds 3 and the end padding: mean 3, not 1.5
        (3, 1, [1.5, 2.0, 3.0, 3.5]),  # one padded cell at each end (symmetric)
    ],
)
def test_average_pooling_same_counts_only_inside_cells(size, stride, expected):
    x = np.arange(1, 5 if size == 3 else 4, dtype="float32").reshape(1, -1, 1)
    check_layer(
        AveragePooling1D,
        {"pool_length": size, "stride": stride, "border_mode": "same"},
        input_data=x,
        expected_output=np.array(expected).reshape(1, -1, 1),
    )


def global_reference(x, axes, kind):
    """Reduce the spatial axes one output channel at a time."""
    channel_axis = next(a for a in range(1, x.ndim) if a not in axes)
    y = np.empty((x.shape[0], x.shape[channel_axis]))
    for b in range(x.shape[0]):
        for c in range(x.shape[channel_axis]):
            values = np.take(x[b], c, axis=channel_axis - 1)
            y[b, c] = values.max() if kind == "max" else values.mean()
    return y


@pytest.mark.parametrize(
    ("cls", "kind", "kwargs", "shape", "axes"),
    [
        (GlobalMaxPooling1D, "max", {}, (2, 5, 3), (1,)),
        (GlobalAveragePooling1D, "average", {}, (2, 5, 3), (1,)),
        (GlobalMaxPooling2D, "max", {"dim_ordering": "th"}, (2, 3, 4, 5), (2, 3)),
        (GlobalMaxPooling2D, "max", {"dim_ordering": "tf"}, (2, 4, 5, 3), (1, 2)),
        (GlobalAveragePooling2D, "average", {"dim_ordering": "th"}, (2, 3, 4, 5), (2, 3)),
        (GlobalAveragePooling2D, "average", {"dim_ordering": "tf"}, (2, 4, 5, 3), (1, 2)),
        (GlobalMaxPooling3D, "max", {"dim_ordering": "th"}, (2, 3, 2, 3, 4), (2, 3, 4)),
        (GlobalMaxPooling3D, "max", {"dim_ordering": "tf"}, (2, 2, 3, 4, 3), (1, 2, 3)),
        (GlobalAveragePooling3D, "average", {"dim_ordering": "th"}, (2, 3, 2, 3, 4), (2, 3, 4)),
        (GlobalAveragePooling3D, "average", {"dim_ordering": "tf"}, (2, 2, 3, 4, 3), (1, 2, 3)),
    ],
)
def test_global_pooling(cls, kind, kwargs, shape, axes):
    check_layer(
        cls, kwargs, input_shape=shape, reference=lambda x, _: global_reference(x, axes, kind)
    )
