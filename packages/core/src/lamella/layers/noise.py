"""Keras 1's noise layers: random perturbations while training, the identity otherwise."""

from __future__ import annotations

import math
from typing import Any

import torch

from lamella.engine.topology import Layer
from lamella.utils.arguments import invalid


class GaussianNoise(Layer):
    """Adds N(0, sigma²) noise while training: a regularizer, and data augmentation for
    real-valued inputs.

    Outside training it passes its input through.

    Args:
        sigma: The standard deviation of the noise, at least 0.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

    def __init__(self, sigma: float, **kwargs: Any):
        super().__init__(**kwargs)
        if not sigma >= 0.0:
            raise invalid(self, "sigma", "a non-negative number", sigma)
        self.sigma = sigma
        self.supports_masking = True
        self.uses_learning_phase = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if not self.training:
            return x
        return x + self.sigma * torch.randn_like(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "sigma": self.sigma}


class GaussianDropout(Layer):
    """Multiplies by N(1, p/(1-p)) noise while training: the mean and variance that
    dropout of a fraction ``p`` gives, without zeroing any unit.

    Outside training it passes its input through.

    Args:
        p: The dropout fraction whose noise it imitates, between 0 and 1; 0
            turns the layer off.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

    def __init__(self, p: float, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0.0 <= p <= 1.0:
            raise invalid(self, "p", "a fraction in [0, 1]", p)
        self.p = p
        self.supports_masking = True
        self.uses_learning_phase = 0.0 < p < 1.0

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if not (self.training and 0.0 < self.p < 1.0):
            return x
        std = math.sqrt(self.p / (1.0 - self.p))
        return x * (1.0 + std * torch.randn_like(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "p": self.p}
