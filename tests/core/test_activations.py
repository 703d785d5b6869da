"""Keras 1 activations against numpy formulas."""

import numpy as np
import pytest
import torch

from lamella import activations

X = np.linspace(-30.0, 30.0, 121).astype(np.float32)
X[60] = 0.0


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ELEMENTWISE = [
    ("linear", lambda x: x),
    ("sigmoid", np_sigmoid),
    ("hard_sigmoid", lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0)),
    ("tanh", np.tanh),
    ("softplus", lambda x: np.logaddexp(0.0, x)),
    ("softsign", lambda x: x / (1.0 + np.abs(x))),
    ("relu", lambda x: np.maximum(x, 0.0)),
    ("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
]


@pytest.mark.parametrize(("name", "reference"), ELEMENTWISE, ids=[n for n, _ in ELEMENTWISE])
def test_elementwise_activation_matches_numpy(name, reference):
    out = getattr(activations, name)(torch.from_numpy(X))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), reference(X.astype(np.float64)), rtol=1e-6, atol=1e-6)


def np_relu(x, alpha, max_value):
    """Keras 1: the positive part, capped, minus alpha times the negative part."""
    positive = np.maximum(x, 0.0)
    if max_value is not None:
        positive = np.minimum(positive, max_value)
    return positive - alpha * np.maximum(-x, 0.0)


@pytest.mark.parametrize(
    ("alpha", "max_value"), [(0.0, None), (0.1, None), (0.0, 6.0), (0.3, 2.5), (-0.5, 1.0)]
)
def test_relu_options_match_keras_formula(alpha, max_value):
    out = activations.relu(torch.from_numpy(X), alpha=alpha, max_value=max_value)
    np.testing.assert_allclose(out.numpy(), np_relu(X, alpha, max_value), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_elu_alpha_scales_the_negative_part(alpha):
    out = activations.elu(torch.from_numpy(X), alpha=alpha)
    expected = np.where(X > 0, X, alpha * np.expm1(X.astype(np.float64)))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 5)])
def test_softmax_normalises_the_last_axis(shape):
    x = np.random.default_rng(0).normal(scale=5.0, size=shape).astype(np.float32)
    out = activations.softmax(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, np_softmax(x.astype(np.float64)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_softmax_refuses_other_ranks_like_keras_1(shape):
    with pytest.raises(ValueError, match=rf"softmax: .*2D or 3D.*ndim={len(shape)}"):
        activations.softmax(torch.zeros(shape))


def test_gradients_flow_through_hard_sigmoid_slope():
    x = torch.tensor([-3.0, 0.0, 1.0, 3.0], requires_grad=True)
    activations.hard_sigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.2, 0.2, 0.0])


def test_builtins_lists_every_keras_1_activation():
    assert set(activations.BUILTINS) == {
        "linear",
        "sigmoid",
        "hard_sigmoid",
        "tanh",
        "softplus",
        "softsign",
        "relu",
        "elu",
        "softmax",
    }
