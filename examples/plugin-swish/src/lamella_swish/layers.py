"""ScaledSwish: a swish whose sharpness each feature learns, as a Keras 1 layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lamella import backend as K
from lamella.engine.topology import Layer

Shape = tuple[int | None, ...]


class ScaledSwish(Layer):
    """``x · sigmoid(beta · x)`` with one learned ``beta`` per feature (the last axis).

    ``beta = 1`` is swish, a large ``beta`` approaches ReLU and ``beta = 0`` gives
    ``x / 2``, so the network picks how much non-linearity each feature needs.
    It keeps the shape and passes masks through.
    """

    def __init__(self, beta_init: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.beta_init = float(beta_init)
        self.supports_masking = True

    def build(self, input_shape: Shape) -> None:
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"ScaledSwish {self.name}: the last axis of the input {input_shape} must "
                "have a known size, since it learns one beta per feature"
            )
        self.beta = self.add_weight((features,), self._initial_beta, name="beta")

    def _initial_beta(self, shape: Sequence[int], name: str | None = None) -> torch.Tensor:
        """Every beta starts at ``beta_init`` (an initializer: shape in, variable out)."""
        return K.variable(np.full(tuple(shape), self.beta_init), name=name)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Everything ``__init__`` needs, so a saved model rebuilds this layer."""
        return {**super().get_config(), "beta_init": self.beta_init}
