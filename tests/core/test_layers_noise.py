"""Noise layers: the identity at predict, the stated noise statistics while training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.layers.noise import GaussianDropout, GaussianNoise
from lamella.testing import check_layer

NOISE = [(GaussianNoise, {"sigma": 0.5}), (GaussianDropout, {"p": 0.3})]


@pytest.mark.parametrize(("cls", "kwargs"), NOISE)
def test_noise_layers_are_the_identity_at_predict(cls, kwargs):
    check_layer(cls, kwargs, input_shape=(4, 3, 5), reference=lambda x, w: x)
    assert cls(**kwargs).uses_learning_phase


def train_on(layer, x: np.ndarray) -> np.ndarray:
    layer.train()
    torch.manual_seed(0)
    return layer(torch.from_numpy(x)).numpy()


def test_gaussian_noise_adds_zero_mean_noise_of_std_sigma_while_training():
    x = np.full((200, 500), 3.0, "float32")
    noise = train_on(GaussianNoise(0.5), x) - x
    assert abs(noise.mean()) < 0.01
    assert abs(noise.std() - 0.5) < 0.01


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gaussian_dropout_multiplies_by_noise_of_mean_1_and_variance_p_over_1_minus_p(p):
    x = np.full((200, 500), -2.0, "float32")
    factor = train_on(GaussianDropout(p), x) / x
    assert abs(factor.mean() - 1.0) < 0.01
    assert abs(factor.var() / (p / (1 - p)) - 1.0) < 0.02


def test_gaussian_dropout_without_a_fraction_is_the_identity_even_in_training():
    x = np.ones((3, 4), "float32")
    np.testing.assert_array_equal(train_on(GaussianDropout(0.0), x), x)
    assert not GaussianDropout(0.0).uses_learning_phase


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (GaussianNoise, {"sigma": -1.0}, "GaussianNoise gaussiannoise_1: sigma must be"),
        (GaussianDropout, {"p": 1.5}, r"GaussianDropout gaussiandropout_1: p must be a fraction"),
    ],
)
def test_bad_arguments_are_reported(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)
