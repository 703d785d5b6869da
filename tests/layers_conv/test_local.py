"""Locally connected layers against a numpy reference with one weight matrix per position.

The reference flattens each input patch the way Keras 1 does ((steps, features) for 1D,
(channels, rows, cols) for 'th', (rows, cols, channels) for 'tf') and adds the 'th' bias
array reshaped, not transposed, to (nb_filter, rows, cols), as Keras 1 does.
"""

from __future__ import annotations

import numpy as np
import pytest

from lamella.conv.local import LocallyConnected1D, LocallyConnected2D
from lamella.models import Sequential
from lamella.testing import check_layer


def random(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("length", [2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_locally_connected_1d(length, stride):
    steps, features, filters = 7, 3, 4
    out = (steps - length) // stride + 1
    weights = [random(out, length * features, filters), random(out, filters, seed=2)]

    def reference(x, weights):
        kernel, bias = weights
        y = np.empty((x.shape[0], out, filters))
        for t in range(out):
            patch = x[:, t * stride : t * stride + length, :].reshape(x.shape[0], -1)
            y[:, t] = patch @ kernel[t] + bias[t]
        return y

    check_layer(
        LocallyConnected1D,
        {
            "nb_filter": filters,
            "filter_length": length,
            "subsample_length": stride,
            "weights": weights,
        },
        input_shape=(2, steps, features),
        reference=reference,
    )


@pytest.mark.parametrize("ordering", ["th", "tf"])
@pytest.mark.parametrize(("size", "stride"), [((2, 3), (1, 1)), ((3, 2), (2, 1))])
def test_locally_connected_2d(ordering, size, stride):
    channels, filters, rows, cols = 3, 2, 5, 4
    out = [(n - k) // s + 1 for n, k, s in zip((rows, cols), size, stride, strict=True)]
    weights = [
        random(out[0] * out[1], size[0] * size[1] * channels, filters),
        random(out[0], out[1], filters, seed=2),
    ]

    def reference(x, weights):
        kernel, bias = weights
        if ordering == "th":
            y = np.empty((x.shape[0], filters, *out))
            bias = bias.reshape(filters, *out)  # Keras 1 reshapes, it does not transpose
        else:
            y = np.empty((x.shape[0], *out, filters))
        for i, j in np.ndindex(*out):
            r, c = i * stride[0], j * stride[1]
            if ordering == "th":
                patch = x[:, :, r : r + size[0], c : c + size[1]]
            else:
                patch = x[:, r : r + size[0], c : c + size[1], :]
            value = patch.reshape(x.shape[0], -1) @ kernel[i * out[1] + j]
            if ordering == "th":
                y[:, :, i, j] = value + bias[:, i, j]
            else:
                y[:, i, j] = value + bias[i, j]
        return y

    shape = (2, channels, rows, cols) if ordering == "th" else (2, rows, cols, channels)
    check_layer(
        LocallyConnected2D,
        {
            "nb_filter": filters,
            "nb_row": size[0],
            "nb_col": size[1],
            "subsample": stride,
            "dim_ordering": ordering,
            "weights": weights,
        },
        input_shape=shape,
        reference=reference,
    )


def test_keras_example_shapes_and_parameter_count():
    model = Sequential()
    model.add(LocallyConnected2D(64, 3, 3, dim_ordering="th", input_shape=(3, 32, 32)))
    assert model.output_shape == (None, 64, 30, 30)
    assert model.count_params() == (30 * 30) * (3 * 3 * 3 * 64) + (30 * 30) * 64
    model.add(LocallyConnected2D(32, 3, 3, dim_ordering="th"))
    assert model.output_shape == (None, 32, 28, 28)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: LocallyConnected1D(2, 3, border_mode="same", name="lc"),
            r"LocallyConnected1D lc: border_mode must be 'valid', got 'same'",
        ),
        (
            lambda: LocallyConnected2D(
                2, 3, 3, dim_ordering="th", input_shape=(3, None, 8), name="lc2"
            ),
            r"LocallyConnected2D lc2: needs the spatial sizes",
        ),
    ],
)
def test_locally_connected_errors(make, message):
    with pytest.raises(ValueError, match=message):
        Sequential([make()])
