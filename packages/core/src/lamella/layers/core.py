"""Keras 1's core layers (``lamella.layers.core``): dense, shape and utility layers."""

from __future__ import annotations

import math
from typing import Any

import torch

from lamella import activations
from lamella.engine.topology import InputSpec, Layer, Shape


def _serialize(obj: Any) -> Any:
    """A regularizer or constraint as its Keras config dict (None stays None)."""
    return obj.get_config() if obj is not None else None


def _activation_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


class Dense(Layer):
    """A fully connected layer: ``activation(x · W + b)`` over the last axis, W of shape (in, n)."""

    def __init__(
        self,
        output_dim: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        input_dim: int | None = None,
        **kwargs: Any,
    ):
        from lamella import constraints, initializers, regularizers

        if input_dim is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_dim,)
        super().__init__(**kwargs)
        if not isinstance(output_dim, int) or output_dim < 1:
            raise ValueError(
                f"Dense {self.name}: output_dim must be a positive integer, got {output_dim!r}"
            )
        self.output_dim = output_dim
        self.input_dim = input_dim
        self.init = initializers.get(init)
        self.activation = activations.get(activation)
        self.W_regularizer = regularizers.get(W_regularizer)
        self.b_regularizer = regularizers.get(b_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.W_constraint = constraints.get(W_constraint)
        self.b_constraint = constraints.get(b_constraint)
        self.bias = bias
        self.input_spec = [InputSpec(ndim="2+")]
        self.supports_masking = True
        self._initial_weights = weights

    def build(self, input_shape: Shape) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Dense {self.name}: the last input axis must be known, got {input_shape}"
            )
        self.input_dim = input_dim
        self.W = self.add_weight(
            (input_dim, self.output_dim),
            self.init,
            name="W",
            regularizer=self.W_regularizer,
            constraint=self.W_constraint,
        )
        if self.bias:
            self.b = self.add_weight(
                (self.output_dim,),
                "zero",
                name="b",
                regularizer=self.b_regularizer,
                constraint=self.b_constraint,
            )
        else:
            self.b = None

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if x.dim() == 2 and self.b is not None:
            output = torch.addmm(self.b, x, self.W)
        else:
            output = x @ self.W
            if self.b is not None:
                output = output + self.b
        return self.activation(output)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "init": _activation_name(self.init),
            "activation": _activation_name(self.activation),
            "W_regularizer": _serialize(self.W_regularizer),
            "b_regularizer": _serialize(self.b_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "W_constraint": _serialize(self.W_constraint),
            "b_constraint": _serialize(self.b_constraint),
            "bias": self.bias,
            "input_dim": self.input_dim,
        }


class Activation(Layer):
    """Applies an activation function (a registered name or any callable)."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": _activation_name(self.activation)}


class Dropout(Layer):
    """Drops a fraction ``p`` of the inputs while training, scaling the rest by 1/(1-p)."""

    def __init__(
        self, p: float, noise_shape: Shape | None = None, seed: int | None = None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout {self.name}: p must be in [0, 1], got {p!r}")
        self.p = p
        self.noise_shape = noise_shape
        self.seed = seed
        self.supports_masking = True
        self.uses_learning_phase = 0.0 < p < 1.0

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if not (self.training and 0.0 < self.p < 1.0):
            return x
        if self.noise_shape is None:
            return torch.nn.functional.dropout(x, self.p, training=True)
        shape = [x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "p": self.p}


class Flatten(Layer):
    """Flattens every axis but the batch axis (C order: 'th' maps flatten channel-major)."""

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape[1:]):
            raise ValueError(
                f"Flatten {self.name}: the input shape {input_shape} is not fully known; "
                "pass input_shape (or input_length) to the first layer of the model"
            )
        return (input_shape[0], math.prod(input_shape[1:]))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)
