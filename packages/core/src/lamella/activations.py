"""Keras 1 activation functions, element-wise on torch tensors (softmax: over the last axis).

Layers look these up by name (``Dense(10, activation='relu')``), so the names
and defaults follow Keras 1.2.2; the maths is torch's own fused kernels wherever
those compute the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from lamella.plugins import resolve
from lamella.utils.generic_utils import get_from_module  # noqa: F401  (a Keras 1 name here)


def linear(x: torch.Tensor) -> torch.Tensor:
    """The identity, what ``activation=None`` means."""
    return x


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras's piecewise-linear sigmoid, clip(0.2x + 0.5, 0, 1).

    Not torch's ``hardsigmoid`` (slope 1/6): LSTM/GRU default to this one, so
    recurrent outputs only match Keras with the 0.2 slope.
    """
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


def tanh(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


def softplus(x: torch.Tensor) -> torch.Tensor:
    return F.softplus(x)


def softsign(x: torch.Tensor) -> torch.Tensor:
    return F.softsign(x)


def relu(x: torch.Tensor, alpha: float = 0.0, max_value: float | None = None) -> torch.Tensor:
    """Rectifier with Keras's options: slope ``alpha`` below zero, positive part capped.

    As in Keras, the cap applies to the positive part only; the leaky part is
    added afterwards.
    """
    if max_value is None:
        return F.leaky_relu(x, alpha) if alpha else F.relu(x)
    capped = x.clamp(0.0, max_value)
    return capped + alpha * x.clamp(max=0.0) if alpha else capped


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    return F.elu(x, alpha)


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis.

    Keras 1 refuses anything but 2D (batch, classes) and 3D (batch, time,
    classes) input; we keep that so models that fail there fail here too.
    """
    if x.ndim not in (2, 3):
        raise ValueError(
            f"softmax: expected a 2D or 3D tensor, got a tensor with ndim={x.ndim} "
            f"(shape {tuple(x.shape)})"
        )
    return torch.softmax(x, dim=-1)


BUILTINS: dict[str, tuple[str, ...]] = {
    "linear": (),
    "sigmoid": (),
    "hard_sigmoid": (),
    "tanh": (),
    "softplus": (),
    "softsign": (),
    "relu": (),
    "elu": (),
    "softmax": (),
}


def get(identifier: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """An activation from a registered name or a callable; ``None`` means linear."""
    if identifier is None:
        return linear
    found = resolve("activations", identifier)
    if not callable(found):
        raise TypeError(f"activation must be a name or a callable, got {identifier!r}")
    return found
