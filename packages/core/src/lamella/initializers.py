"""Keras 1 weight initializers: ``f(shape, name=None, dim_ordering='th')`` -> Parameter.

Layers call every initializer, built-in or custom, through :func:`initial_value`:
``init(shape, name=...)`` as Keras 1 does (convolutions bind ``dim_ordering=``
first, when the initializer takes it).  A custom one may return a Parameter, a
tensor, a numpy array or nested lists.

Scales follow Keras 1.2.2 (including ``orthogonal``'s gain of 1.1 and its fan
rules for convolution kernels), so a model gets weights of the same
distribution as under Keras.  Random numbers come from torch's global
generator: ``torch.manual_seed`` makes them repeatable.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lamella.backend.config import torch_dtype
from lamella.plugins import resolve

Shape = Sequence[int]


def _check_shape(caller: str, shape: object) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise TypeError(f"{caller}: shape must be a tuple of ints, got {shape!r}")
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"{caller}: shape must be a tuple of ints, got {shape!r}")
    dims = tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError(f"{caller}: shape must not have negative dimensions, got {dims}")
    return dims


def _parameter(values: torch.Tensor, name: str | None) -> torch.nn.Parameter:
    param = torch.nn.Parameter(values.to(torch_dtype()))
    if name is not None:
        param._keras_name = name
    return param


def _fans(caller: str, shape: object, dim_ordering: str) -> tuple[float, float]:
    dims = _check_shape(caller, shape)
    if dim_ordering not in ("th", "tf"):
        raise ValueError(f"{caller}: dim_ordering must be 'th' or 'tf', got {dim_ordering!r}")
    if len(dims) == 2:
        return dims[0], dims[1]
    if len(dims) in (4, 5):
        if dim_ordering == "th":  # (out, in, *spatial)
            receptive = math.prod(dims[2:])
            return dims[1] * receptive, dims[0] * receptive
        # (*spatial, in, out).  Keras 1 multiplies only the first two spatial
        # sizes, even for 5D kernels; kept so Conv3D 'tf' scales match Keras.
        receptive = math.prod(dims[:2])
        return dims[-2] * receptive, dims[-1] * receptive
    both = math.sqrt(math.prod(dims))
    return both, both


def get_fans(shape: Shape, dim_ordering: str = "th") -> tuple[float, float]:
    """(fan_in, fan_out) of a weight: Dense (in, out), conv kernels by ``dim_ordering``.

    Other ranks make no assumption and use sqrt(size) for both.
    """
    return _fans("get_fans", shape, dim_ordering)


def uniform(
    shape: Shape, scale: float = 0.05, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    """U(-scale, scale)."""
    dims = _check_shape("uniform", shape)
    return _parameter(torch.empty(dims, dtype=torch_dtype()).uniform_(-scale, scale), name)


def normal(
    shape: Shape, scale: float = 0.05, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    """N(0, scale), not truncated."""
    dims = _check_shape("normal", shape)
    return _parameter(torch.empty(dims, dtype=torch_dtype()).normal_(0.0, scale), name)


def lecun_uniform(
    shape: Shape, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    fan_in, _ = _fans("lecun_uniform", shape, dim_ordering)
    return uniform(shape, math.sqrt(3.0 / fan_in), name=name)


def glorot_normal(
    shape: Shape, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    fan_in, fan_out = _fans("glorot_normal", shape, dim_ordering)
    return normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), name=name)


def glorot_uniform(
    shape: Shape, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    """The Keras 1 default for most layers."""
    fan_in, fan_out = _fans("glorot_uniform", shape, dim_ordering)
    return uniform(shape, math.sqrt(6.0 / (fan_in + fan_out)), name=name)


def he_normal(
    shape: Shape, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    fan_in, _ = _fans("he_normal", shape, dim_ordering)
    return normal(shape, math.sqrt(2.0 / fan_in), name=name)


def he_uniform(
    shape: Shape, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    fan_in, _ = _fans("he_uniform", shape, dim_ordering)
    return uniform(shape, math.sqrt(6.0 / fan_in), name=name)


def orthogonal(
    shape: Shape, scale: float = 1.1, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    """Orthonormal rows (or columns, if taller than wide) of shape[0] x rest, times ``scale``.

    Keras 1 scales by 1.1 by default (Keras 2 by 1.0); recurrent layers that
    use it depend on that gain.
    """
    dims = _check_shape("orthogonal", shape)
    if not dims:
        raise ValueError("orthogonal: shape must have at least one dimension, got ()")
    rows, cols = dims[0], math.prod(dims[1:])
    gaussian = torch.randn(rows, cols, dtype=torch.float64)
    u, _, vh = torch.linalg.svd(gaussian, full_matrices=False)
    basis = u if rows >= cols else vh
    return _parameter(scale * basis.reshape(dims), name)


def identity(
    shape: Shape, scale: float = 1, name: str | None = None, dim_ordering: str = "th"
) -> torch.nn.Parameter:
    dims = _check_shape("identity", shape)
    if len(dims) != 2 or dims[0] != dims[1]:
        raise ValueError(f"identity: shape must be square and 2D, got {dims}")
    return _parameter(scale * torch.eye(dims[0], dtype=torch.float64), name)


def zero(shape: Shape, name: str | None = None, dim_ordering: str = "th") -> torch.nn.Parameter:
    return _parameter(torch.zeros(_check_shape("zero", shape)), name)


def one(shape: Shape, name: str | None = None, dim_ordering: str = "th") -> torch.nn.Parameter:
    return _parameter(torch.ones(_check_shape("one", shape)), name)


# Keras 2's names of the same initializers (same defaults: N(0, 0.05), U(-0.05, 0.05)).
zeros, ones, random_normal, random_uniform = zero, one, normal, uniform

BUILTINS: dict[str, tuple[str, ...]] = {
    "uniform": ("random_uniform",),
    "normal": ("random_normal",),
    "lecun_uniform": (),
    "glorot_normal": (),
    "glorot_uniform": (),
    "he_normal": (),
    "he_uniform": (),
    "orthogonal": (),
    "identity": (),
    "zero": ("zeros",),
    "one": ("ones",),
}

__all__ = [
    "BUILTINS",
    "get",
    "get_fans",
    *BUILTINS,
    *(alias for aliases in BUILTINS.values() for alias in aliases),
]


def get(identifier: Any, **kwargs: Any) -> Callable[..., torch.nn.Parameter]:
    """An initializer from a registered name or a callable ``f(shape, name=None)``.

    Keyword arguments (``scale=0.01``) are bound to it.
    """
    found = resolve("initializers", identifier)
    if not callable(found):
        raise TypeError(f"init must be a name or a callable, got {identifier!r}")
    return functools.partial(found, **kwargs) if kwargs else found


def _accepts(init: Callable[..., Any], keyword: str) -> bool | None:
    """Whether ``init`` takes ``keyword``; None when its signature cannot be read."""
    try:
        parameters = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):
        return None
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == keyword and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in parameters
    )


def with_dim_ordering(init: Callable[..., Any], dim_ordering: str) -> Callable[..., Any]:
    """``init`` with a kernel's ``dim_ordering`` bound, if it takes one.

    Keras 1's convolutions always bind it; lamella's initializers read fans by it,
    and a custom ``lambda shape, name: ...`` without it serves convolutions too.
    """
    if _accepts(init, "dim_ordering"):
        return functools.partial(init, dim_ordering=dim_ordering)
    return init


def initial_value(init: Callable[..., Any], shape: Shape, name: str, where: str) -> torch.Tensor:
    """The first value of weight ``name`` (of shape ``shape``), drawn by ``init``.

    Called as Keras 1 calls initializers, ``init(shape, name=name)``; ``where``
    names the layer in errors.  A Parameter of floatx comes back as it is, any
    other tensor, array or nested list as a tensor of floatx.
    """
    if any(s is None for s in shape):
        raise ValueError(
            f"{where}: weight {name} needs a known shape, got {tuple(shape)}: it depends on "
            "a dimension of the input that is unknown (None); give the input a fixed size "
            "there (input_shape=, Input(shape=...)), or build the weight from known sizes only"
        )
    dims = tuple(int(s) for s in shape)
    if _accepts(init, "name") is False:
        raise TypeError(
            f"{where}: the initializer of {name} must accept (shape, name=None), as Keras 1 "
            f"calls it; got {getattr(init, '__name__', init)!r}{inspect.signature(init)}"
        )
    value = init(dims, name=name)
    if not (isinstance(value, torch.nn.Parameter) and value.dtype == torch_dtype()):
        if isinstance(value, torch.Tensor):
            value = value.detach()
        value = torch.as_tensor(value, dtype=torch_dtype())
    if tuple(value.shape) != dims:
        raise ValueError(
            f"{where}: the initializer of {name} returned shape {tuple(value.shape)}, "
            f"expected {dims}"
        )
    return value
