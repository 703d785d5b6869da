"""Keras 1 weight and activity regularizers: a tensor in, a scalar penalty out.

The layer adds each penalty to the training loss.  Penalties are plain sums
(no 1/2 factor), as in Keras 1, so a given ``l2`` coefficient means the same
thing here as in a Keras model.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from lamella.plugins import resolve
from lamella.utils.generic_utils import get_from_module

__all__ = [
    "ActivityRegularizer",
    "EigenvalueRegularizer",
    "L1L2Regularizer",
    "Regularizer",
    "WeightRegularizer",
    "activity_l1",
    "activity_l1l2",
    "activity_l2",
    "get",
    "get_from_module",
    "l1",
    "l1l2",
    "l2",
]


class Regularizer:
    """Base class; on its own it penalises nothing.

    Subclasses override ``__call__`` and extend ``get_config``, whose ``name``
    entry (the class name) is how layer configs refer to them.
    """

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _require_tensor(self, x)
        return x.new_zeros(())

    def get_config(self) -> dict[str, Any]:
        return {"name": type(self).__name__}


def _require_tensor(regularizer: Regularizer, x: object) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{type(regularizer).__name__}: expected a torch.Tensor to regularize, "
            f"got {type(x).__name__}"
        )


def _coefficient(arg: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"L1L2Regularizer: {arg} must be a number, got {value!r}")
    return float(value)


class L1L2Regularizer(Regularizer):
    """sum(l1 * |x|) + sum(l2 * x**2); also known as WeightRegularizer and ActivityRegularizer."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _coefficient("l1", l1)
        self.l2 = _coefficient("l2", l2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        penalty = super().__call__(x)
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


WeightRegularizer = ActivityRegularizer = L1L2Regularizer

#: Power-method steps Keras 1 takes to find the dominant eigenvector.
_POWER_STEPS = 9


class EigenvalueRegularizer(Regularizer):
    """``k * sqrt(largest eigenvalue of W^T W)``: a penalty on a 2D weight's spectral norm.

    As in Keras 1, the eigenvalue is the Rayleigh quotient of ``C = W^T W`` at
    ``C^9 · 1`` (nine steps of the power method from a vector of ones), so the
    penalty and its gradient are those of Keras's formula.  Each step is
    normalised, which leaves the quotient unchanged but keeps large weights from
    overflowing.
    """

    def __init__(self, k: float) -> None:
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(f"EigenvalueRegularizer: k must be a number, got {k!r}")
        self.k = float(k)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _require_tensor(self, x)
        if x.dim() != 2:
            raise ValueError(
                "EigenvalueRegularizer: only 2D weights (a Dense kernel) can be regularized, "
                f"got a tensor of shape {tuple(x.shape)}"
            )
        covariance = x.T @ x
        vector = covariance.new_ones(covariance.shape[0], 1)
        for _ in range(_POWER_STEPS):
            vector = covariance @ vector
            vector = vector / vector.norm().clamp_min(torch.finfo(vector.dtype).tiny)
        tiny = torch.finfo(vector.dtype).tiny
        eigenvalue = (vector.T @ covariance @ vector).squeeze() / vector.square().sum().clamp_min(
            tiny
        )
        # Clamped above 0 so that all-zero weights get a zero gradient, not sqrt's infinite one.
        return self.k * eigenvalue.clamp_min(tiny).sqrt()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k}


def l1(l: float = 0.01) -> L1L2Regularizer:
    return L1L2Regularizer(l1=l)


def l2(l: float = 0.01) -> L1L2Regularizer:
    return L1L2Regularizer(l2=l)


def l1l2(l1: float = 0.01, l2: float = 0.01) -> L1L2Regularizer:
    return L1L2Regularizer(l1=l1, l2=l2)


# Keras 1 kept separate activity_* shortcuts; they build the very same objects.
activity_l1, activity_l2, activity_l1l2 = l1, l2, l1l2
l1_l2 = l1l2  # Keras 2's name

BUILTINS: dict[str, tuple[str, ...]] = {
    "Regularizer": (),
    "EigenvalueRegularizer": (),
    "L1L2Regularizer": ("WeightRegularizer", "ActivityRegularizer"),
    "l1": ("activity_l1",),
    "l2": ("activity_l2",),
    "l1l2": ("activity_l1l2", "l1_l2"),
}


def get(identifier: Any) -> Any:
    """A regularizer from an instance, a name (``'l2'`` gives ``l2()``) or a config dict."""
    return resolve("regularizers", identifier, instantiate=True)
