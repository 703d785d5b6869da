"""Advanced activations against numpy, with learned parameters passed in with ``weights=``."""

from __future__ import annotations

import numpy as np
import pytest

from lamella.layers import Input
from lamella.layers.advanced_activations import (
    ELU,
    LeakyReLU,
    ParametricSoftplus,
    PReLU,
    SReLU,
    ThresholdedReLU,
)
from lamella.models import Sequential
from lamella.testing import check_layer


def random(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize(
    ("cls", "kwargs", "reference"),
    [
        (LeakyReLU, {}, lambda x: np.where(x > 0, x, 0.3 * x)),
        (LeakyReLU, {"alpha": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x)),
        (ELU, {}, lambda x: np.where(x > 0, x, np.expm1(x))),
        (ELU, {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
        (ThresholdedReLU, {}, lambda x: np.where(x > 1.0, x, 0.0)),
        (ThresholdedReLU, {"theta": -0.5}, lambda x: np.where(x > -0.5, x, 0.0)),
    ],
)
def test_fixed_activations(cls, kwargs, reference):
    check_layer(cls, kwargs, input_shape=(4, 3, 5), reference=lambda x, w: reference(x))


# (input shape, shared_axes, parameter shape)
SHARING = [
    ((4, 6), None, (6,)),
    ((4, 3, 5), None, (3, 5)),
    ((4, 3, 5), 1, (1, 5)),
    ((2, 3, 4, 5), [1, 2], (1, 1, 5)),
    ((2, 3, 4, 5), (2, 3), (3, 1, 1)),
]


@pytest.mark.parametrize(("input_shape", "shared_axes", "param_shape"), SHARING)
def test_prelu_learns_the_negative_slopes(input_shape, shared_axes, param_shape):
    check_layer(
        PReLU,
        {"weights": [random(*param_shape, seed=2)], "shared_axes": shared_axes},
        input_shape=input_shape,
        reference=lambda x, w: np.where(x > 0, x, w[0] * x),
        weights_count=1,
    )


@pytest.mark.parametrize(("input_shape", "shared_axes", "param_shape"), SHARING)
def test_parametric_softplus_scales_a_sharpened_softplus(input_shape, shared_axes, param_shape):
    alphas = np.abs(random(*param_shape, seed=2))
    betas = np.abs(random(*param_shape, seed=3)) + 0.5
    check_layer(
        ParametricSoftplus,
        {"weights": [alphas, betas], "shared_axes": shared_axes},
        input_shape=input_shape,
        reference=lambda x, w: w[0] * np.log1p(np.exp(w[1] * x)),
        weights_count=2,
    )


def srelu(x, t_left, a_left, t_right, a_right):
    right = t_left + np.abs(t_right)
    below = t_left + a_left * (x - t_left)
    above = right + a_right * (x - right)
    return np.where(x < t_left, below, np.where(x > right, above, x))


@pytest.mark.parametrize(("input_shape", "shared_axes", "param_shape"), SHARING)
def test_srelu_is_the_identity_between_its_thresholds(input_shape, shared_axes, param_shape):
    def reference(x, w):
        return srelu(x, *w)

    # Random parameters everywhere, so that each of the three pieces is exercised.
    layer_kwargs = {
        "shared_axes": shared_axes,
        "t_left_init": "normal",
        "a_left_init": "normal",
        "a_right_init": "normal",
    }
    check_layer(SReLU, layer_kwargs, input_shape=input_shape, reference=reference, weights_count=4)


@pytest.mark.parametrize(
    ("cls", "layout"),
    [
        (PReLU, [("alphas", 0.0)]),
        (ParametricSoftplus, [("alphas", 0.2), ("betas", 5.0)]),
        (SReLU, [("t_left", 0.0), ("a_left", None), ("t_right", None), ("a_right", 1.0)]),
    ],
)
def test_parameters_names_order_and_initial_values(cls, layout):
    layer = cls(shared_axes=[1], input_shape=(3, 4))
    Sequential([layer])
    assert [w._keras_name for w in layer.weights] == [f"{layer.name}_{n}" for n, _ in layout]
    for weight, (_, value) in zip(layer.get_weights(), layout, strict=True):
        assert weight.shape == (1, 4)
        if value is not None:
            np.testing.assert_array_equal(weight, np.full((1, 4), value, "float32"))


@pytest.mark.parametrize(
    ("shared_axes", "input_shape", "message"),
    [
        (0, (3,), "shared_axes must be None, or input axes counted from 1"),
        ("1", (3,), "shared_axes must be None, or input axes counted from 1"),
        (3, (3, 4), r"shared_axes must be axes of the input \(None, 3, 4\) \(1 to 2\)"),
        (None, (None, 4), "every axis of the input .* without a known size must be in shared"),
    ],
)
def test_bad_shared_axes_are_reported(shared_axes, input_shape, message):
    with pytest.raises(ValueError, match=rf"PReLU prelu_1: {message}"):
        layer = PReLU(shared_axes=shared_axes)
        layer(Input(shape=input_shape))


def test_unknown_sizes_are_fine_along_shared_axes():
    layer = PReLU(shared_axes=1)
    assert layer(Input(shape=(None, 4))).shape == (None, None, 4)
    assert layer.get_weights()[0].shape == (1, 4)
