"""BatchNormalization against numpy (Keras 1's formulas) and torch.nn.BatchNorm1d.

Keras 1 normalizes with the batch's biased variance and keeps that same biased
variance, in ``running_std``, for test time; torch keeps the unbiased one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.layers import Input
from lamella.layers.normalization import BatchNormalization
from lamella.models import Sequential
from lamella.testing import check_layer

EPSILON = 1e-3

# (input shape, axis): features last, 'th' images (channels at 1), 'tf' images.
LAYOUTS = [((6, 4), -1), ((5, 3, 4), -1), ((4, 3, 5, 5), 1), ((4, 5, 5, 3), 3)]


def random(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def along(vector: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A per-feature vector shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    shape = [1] * ndim
    shape[axis] = -1
    return vector.reshape(shape)


def normalize(x, mean, var, gamma, beta, axis):
    mean, var, gamma, beta = (along(v, x.ndim, axis) for v in (mean, var, gamma, beta))
    return (x - mean) / np.sqrt(var + EPSILON) * gamma + beta


def batch_moments(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    others = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    return x.mean(axis=others), x.var(axis=others)  # numpy's var is the biased one


def random_weights(features: int) -> list[np.ndarray]:
    gamma, beta, mean = (random(features, seed=s) for s in (2, 3, 4))
    var = np.abs(random(features, seed=5)) + 0.5
    return [gamma, beta, mean, var]


@pytest.mark.parametrize(("shape", "axis"), LAYOUTS)
def test_mode_0_at_test_time_uses_the_running_statistics(shape, axis):
    weights = random_weights(shape[axis])
    check_layer(
        BatchNormalization,
        {"axis": axis, "weights": weights},
        input_shape=shape,
        reference=lambda x, w: normalize(x, w[2], w[3], w[0], w[1], axis),
        weights_count=4,
    )


@pytest.mark.parametrize(("shape", "axis"), LAYOUTS)
def test_mode_0_training_uses_the_batch_and_moves_the_running_statistics(shape, axis):
    gamma, beta, _, _ = random_weights(shape[axis])
    mean, var = np.zeros(shape[axis]), np.ones(shape[axis])
    layer = BatchNormalization(axis=axis, momentum=0.9, weights=[gamma, beta, mean, var])
    layer(Input(shape=shape[1:]))
    layer.train()
    for step in range(3):
        x = random(*shape, seed=10 + step) * 2 + 1
        y = layer(torch.from_numpy(x)).detach().numpy()
        batch_mean, batch_var = batch_moments(x, axis)
        np.testing.assert_allclose(
            y, normalize(x, batch_mean, batch_var, gamma, beta, axis), rtol=1e-4, atol=1e-5
        )
        mean = mean * 0.9 + batch_mean * 0.1
        var = var * 0.9 + batch_var * 0.1
        np.testing.assert_allclose(layer.get_weights()[2], mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.get_weights()[3], var, rtol=1e-5, atol=1e-6)
    layer.eval()
    np.testing.assert_allclose(
        layer(torch.from_numpy(x)).detach().numpy(),
        normalize(x, mean, var, gamma, beta, axis),
        rtol=1e-4,
        atol=1e-5,
    )


def test_training_matches_torch_batchnorm_and_so_does_test_time_on_the_same_statistics():
    x = random(8, 5) * 3 - 1
    gamma, beta, _, _ = random_weights(5)
    ours = BatchNormalization(momentum=0.9, weights=[gamma, beta, np.zeros(5), np.ones(5)])
    ours(Input(shape=(5,)))
    theirs = torch.nn.BatchNorm1d(5, eps=EPSILON, momentum=0.1)  # torch weighs the new batch
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    ours.train()
    theirs.train()
    np.testing.assert_allclose(
        ours(torch.from_numpy(x)).detach().numpy(),
        theirs(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    _, _, running_mean, running_var = ours.get_weights()
    np.testing.assert_allclose(running_mean, theirs.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * x.var(axis=0), rtol=1e-5)
    np.testing.assert_allclose(theirs.running_var.numpy(), 0.9 + 0.1 * x.var(axis=0, ddof=1))
    with torch.no_grad():
        theirs.running_var.copy_(torch.from_numpy(running_var))
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(
        ours(torch.from_numpy(x)).detach().numpy(),
        theirs(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_fit_moves_the_running_statistics_once_per_batch():
    layer = BatchNormalization(momentum=0.8, input_shape=(3,))
    model = Sequential([layer])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.0), loss="mse")
    x = random(12, 3) * 3 + 2
    model.fit(x, np.zeros_like(x), batch_size=4, nb_epoch=2, shuffle=False, verbose=0)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(2):
        for start in range(0, 12, 4):
            batch_mean, batch_var = batch_moments(x[start : start + 4], -1)
            mean, var = mean * 0.8 + batch_mean * 0.2, var * 0.8 + batch_var * 0.2
    gamma, beta, running_mean, running_var = layer.get_weights()
    np.testing.assert_allclose(running_mean, mean, rtol=1e-5)
    np.testing.assert_allclose(running_var, var, rtol=1e-5)
    np.testing.assert_allclose(
        model.predict(x), normalize(x, mean, var, gamma, beta, -1), rtol=1e-4, atol=1e-5
    )


def test_a_training_batch_of_one_gives_beta():
    layer = BatchNormalization(weights=random_weights(3))
    layer(Input(shape=(3,)))
    layer.train()
    y = layer(torch.from_numpy(random(1, 3))).detach().numpy()
    np.testing.assert_allclose(y, layer.get_weights()[1][None], rtol=1e-6)


@pytest.mark.parametrize(("shape", "axis"), LAYOUTS)
def test_mode_2_uses_the_batch_statistics_at_test_time_too(shape, axis):
    def reference(x, w):
        return normalize(x, *batch_moments(x, axis), w[0], w[1], axis)

    weights = random_weights(shape[axis])
    check_layer(
        BatchNormalization,
        {"mode": 2, "axis": axis, "weights": weights},
        input_shape=shape,
        reference=reference,
        rtol=1e-4,
    )
    layer = BatchNormalization(mode=2, axis=axis, weights=weights)
    layer(Input(shape=shape[1:]))
    layer.train()
    layer(torch.from_numpy(random(*shape)))
    np.testing.assert_array_equal(layer.get_weights()[2:], weights[2:])
    assert not layer.uses_learning_phase


def test_mode_1_normalizes_each_sample_over_its_last_axis():
    def reference(x, w):
        mean = x.mean(axis=-1, keepdims=True)
        std = np.sqrt(x.var(axis=-1, keepdims=True) + EPSILON)
        return (x - mean) / (std + EPSILON) * w[0] + w[1]

    for shape in [(4, 6), (3, 4, 6)]:
        check_layer(
            BatchNormalization,
            {"mode": 1, "weights": random_weights(6)},
            input_shape=shape,
            reference=reference,
            rtol=1e-4,
        )


def test_weights_gamma_beta_then_the_running_mean_and_variance():
    layer = BatchNormalization(input_shape=(3,))
    Sequential([layer])
    assert [w._keras_name for w in layer.weights] == [
        "batchnormalization_1_gamma",
        "batchnormalization_1_beta",
        "batchnormalization_1_running_mean",
        "batchnormalization_1_running_std",
    ]
    assert len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 2
    np.testing.assert_array_equal(layer.get_weights(), [[1] * 3, [0] * 3, [0] * 3, [1] * 3])


@pytest.mark.parametrize(
    ("kwargs", "shape", "message"),
    [
        ({"mode": 3}, None, "mode must be 0, 1 or 2"),
        ({"momentum": 1.5}, None, "momentum must be a number in"),
        ({"epsilon": 0.0}, None, "epsilon must be a positive number"),
        ({"axis": 0}, (3,), "axis must be a non-batch axis"),
        ({"axis": 2}, (3,), "axis must be a non-batch axis"),
        ({"axis": 1}, (None, 3), "the size of axis 1 must be known"),
        ({"mode": 1, "axis": 1}, (3, 4), "axis must be the last axis"),
    ],
)
def test_bad_arguments_are_reported(kwargs, shape, message):
    with pytest.raises(ValueError, match=rf"BatchNormalization batchnormalization_1: {message}"):
        layer = BatchNormalization(**kwargs)
        layer(Input(shape=shape))
