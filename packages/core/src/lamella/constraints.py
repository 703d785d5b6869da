"""Keras 1 weight constraints: applied to a parameter after every optimizer step.

Each constraint maps the updated weight to its constrained value; norms are
taken along ``axis`` (0 by default: each column of a Dense kernel, i.e. each
unit's incoming weights), with Keras's ``epsilon()`` guarding the division.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lamella.backend.config import epsilon
from lamella.keras2.construct import one_of
from lamella.plugins import resolve
from lamella.utils.arguments import is_int
from lamella.utils.generic_utils import get_from_module  # noqa: F401  (a Keras 1 name here)

Axis = int | Sequence[int]


class Constraint:
    """Base class; on its own it leaves the weight unchanged.

    ``get_config()['name']`` (the class name) is how layer configs refer to it.
    """

    def __call__(self, p: torch.Tensor) -> torch.Tensor:
        if not isinstance(p, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__}: expected a torch.Tensor to constrain, "
                f"got {type(p).__name__}"
            )
        return p

    def get_config(self) -> dict[str, Any]:
        return {"name": type(self).__name__}


class _NormRescale(Constraint):
    """Rescales ``p`` so its norm along ``axis`` becomes ``self._target(norm)``."""

    def __init__(self, axis: Axis = 0) -> None:
        ints = isinstance(axis, Sequence) and all(is_int(a) for a in axis)
        if not (is_int(axis) or ints):
            raise TypeError(
                f"{type(self).__name__}: axis must be an int or a sequence of ints, got {axis!r}"
            )
        # Plain ints and lists, so that get_config() is JSON-ready.
        self.axis: int | list[int] = int(axis) if is_int(axis) else [int(a) for a in axis]

    def _target(self, norms: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, p: torch.Tensor) -> torch.Tensor:
        p = super().__call__(p)
        dim = self.axis if isinstance(self.axis, int) else tuple(self.axis)
        norms = torch.linalg.vector_norm(p, dim=dim, keepdim=True)
        return p * (self._target(norms) / (epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class MaxNorm(_NormRescale):
    """Shrinks vectors whose norm exceeds ``m``; shorter ones stay as they are."""

    def __init__(self, m: float | None = None, axis: Axis = 0, max_value: float | None = None):
        super().__init__(axis)
        self.m = one_of("MaxNorm", ("m", m), ("max_value", max_value), 2)

    def _target(self, norms: torch.Tensor) -> torch.Tensor:
        return norms.clamp(0, self.m)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "m": self.m}


class NonNeg(Constraint):
    def __call__(self, p: torch.Tensor) -> torch.Tensor:
        return super().__call__(p).clamp(min=0)


class UnitNorm(_NormRescale):
    def _target(self, norms: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(norms)


class MinMaxNorm(_NormRescale):
    """Moves the norm toward [low, high]; ``rate`` < 1 moves it only part of the way."""

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        rate: float = 1.0,
        axis: Axis = 0,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__(axis)
        self.low = one_of("MinMaxNorm", ("low", low), ("min_value", min_value), 0.0)
        self.high = one_of("MinMaxNorm", ("high", high), ("max_value", max_value), 1.0)
        self.rate = rate

    def _target(self, norms: torch.Tensor) -> torch.Tensor:
        return self.rate * norms.clamp(self.low, self.high) + (1 - self.rate) * norms

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "low": self.low, "high": self.high, "rate": self.rate}


maxnorm = max_norm = MaxNorm
nonneg = non_neg = NonNeg
unitnorm = unit_norm = UnitNorm
minmaxnorm = min_max_norm = MinMaxNorm

BUILTINS: dict[str, tuple[str, ...]] = {
    "Constraint": (),
    "MaxNorm": ("maxnorm", "max_norm"),
    "NonNeg": ("nonneg", "non_neg"),
    "UnitNorm": ("unitnorm", "unit_norm"),
    "MinMaxNorm": ("minmaxnorm", "min_max_norm"),
}


def get(identifier: Any) -> Any:
    """A constraint from an instance, a name (``'maxnorm'``) or a config dict."""
    return resolve("constraints", identifier, instantiate=True)
