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


def l1(l: float = 0.01) -> L1L2Regularizer:
    return L1L2Regularizer(l1=l)


def l2(l: float = 0.01) -> L1L2Regularizer:
    return L1L2Regularizer(l2=l)


def l1l2(l1: float = 0.01, l2: float = 0.01) -> L1L2Regularizer:
    return L1L2Regularizer(l1=l1, l2=l2)


# Keras 1 kept separate activity_* shortcuts; they build the very same objects.
activity_l1, activity_l2, activity_l1l2 = l1, l2, l1l2

BUILTINS: dict[str, tuple[str, ...]] = {
    "Regularizer": (),
    "L1L2Regularizer": ("WeightRegularizer", "ActivityRegularizer"),
    "l1": ("activity_l1",),
    "l2": ("activity_l2",),
    "l1l2": ("activity_l1l2",),
}


def get(identifier: Any) -> Any:
    """A regularizer from an instance, a name (``'l2'`` gives ``l2()``) or a config dict."""
    return resolve("regularizers", identifier, instantiate=True)
