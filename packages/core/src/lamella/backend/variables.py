"""Keras 1's randomly initialised variables: ``K.random_uniform_variable`` and
``K.random_normal_variable``.

Like :func:`lamella.backend.variable` they return ``nn.Parameter``s on the CPU (models move
their weights with ``.to``). A seed draws from its own generator, so the draw is reproducible
and the global torch RNG is left alone; without one the global RNG draws.
"""

from __future__ import annotations

import torch

from lamella.backend.ops import DType, Shape, _float_dtype, _generator, _new_variable, _shape

__all__ = ["random_normal_variable", "random_uniform_variable"]


def random_uniform_variable(
    shape: Shape,
    low: float,
    high: float,
    dtype: DType = None,
    name: str | None = None,
    seed: int | None = None,
) -> torch.nn.Parameter:
    """A variable drawn uniformly from ``[low, high)``."""
    fn = "random_uniform_variable"
    cpu = torch.device("cpu")
    draw = torch.rand(
        _shape(fn, shape), generator=_generator(seed, cpu), dtype=_float_dtype(fn, dtype)
    )
    return _new_variable(draw * (high - low) + low, name)


def random_normal_variable(
    shape: Shape,
    mean: float,
    scale: float,
    dtype: DType = None,
    name: str | None = None,
    seed: int | None = None,
) -> torch.nn.Parameter:
    """A variable drawn from a normal distribution of ``mean`` and standard deviation
    ``scale``."""
    fn = "random_normal_variable"
    cpu = torch.device("cpu")
    draw = torch.randn(
        _shape(fn, shape), generator=_generator(seed, cpu), dtype=_float_dtype(fn, dtype)
    )
    return _new_variable(draw * scale + mean, name)
