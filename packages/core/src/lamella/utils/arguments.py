"""Checks for the arguments of layers, optimizers and iterators, lamella's and plugins' alike.

Every check raises the same kind of error: ``<owner>: <argument> must be <what it takes>,
got <what it got>``, where the owner is a layer as ``<class> <name>`` (``Dense dense_1``),
any other object as its class name (``Adam``), or a caller's own text
(``ImageDataGenerator.fit``).  A check returns the value in the form the caller stores
(``int`` for integers, so a numpy integer never reaches a config).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_dim_ordering",
    "check_fraction",
    "check_int",
    "check_number",
    "check_one_of",
    "int_pair",
    "int_tuple",
    "invalid",
    "is_int",
    "is_size",
    "owner_name",
]


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (numpy's included), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_size(value: object) -> bool:
    """Whether ``value`` may be a size in a shape: None (unknown) or a positive integer."""
    return value is None or (is_int(value) and value > 0)  # type: ignore[operator]


def owner_name(owner: object) -> str:
    """How errors name ``owner``: text as it is, ``<class> <name>`` for an object with a
    string ``name`` (a layer), else its class name."""
    if isinstance(owner, str):
        return owner
    name = getattr(owner, "name", None)
    kind = type(owner).__name__
    return f"{kind} {name}" if isinstance(name, str) else kind


def invalid(owner: object, arg: str, expected: str, got: Any) -> ValueError:
    """The error for a bad argument: its owner, the argument, what it takes, what it got."""
    return ValueError(f"{owner_name(owner)}: {arg} must be {expected}, got {got!r}")


def check_int(owner: object, arg: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum`` (1: a positive integer)."""
    if not is_int(value) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise invalid(owner, arg, expected, value)
    return int(value)


def int_tuple(owner: object, arg: str, value: Any, rank: int, minimum: int = 1) -> tuple[int, ...]:
    """``rank`` ints of at least ``minimum``; one int stands for every axis."""
    if is_int(value):
        return (check_int(owner, arg, value, minimum),) * rank
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == rank
        and all(is_int(v) and v >= minimum for v in value)
    ):
        return tuple(int(v) for v in value)
    kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
    raise invalid(owner, arg, f"an integer or a tuple of {rank} {kind}", value)


def int_pair(owner: object, arg: str, value: Any) -> tuple[int, int]:
    """A (before, after) pair of non-negative ints; one int stands for both."""
    return int_tuple(owner, arg, value, 2, minimum=0)  # type: ignore[return-value]


def check_number(
    owner: object, arg: str, value: Any, low: float, high: float | None = None
) -> float:
    """``value`` as a float in ``[low, high)``; a non-number (a bool too) is a TypeError."""
    expected = f"a number >= {low:g}" if high is None else f"a number in [{low:g}, {high:g})"
    where = f"{owner_name(owner)}: {arg}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be {expected}, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not (number >= low and (high is None or number < high)):  # also rejects NaN
        raise ValueError(f"{where} must be {expected}, got {value!r}")
    return number


def check_fraction(owner: object, arg: str, value: Any) -> float:
    """``value`` as a float in [0, 1): a dropout rate."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise invalid(owner, arg, "a fraction in [0, 1)", value)
    return float(value)


def check_one_of(owner: object, arg: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed`` (a border mode, a layout name)."""
    if value not in allowed:
        raise invalid(owner, arg, " or ".join(repr(a) for a in allowed), value)
    return value


def check_dim_ordering(owner: object, value: Any) -> str:
    """Keras 1's ``dim_ordering``: 'th' or 'tf'; 'default' reads ``image_dim_ordering()``
    now, at construction, as Keras 1 does."""
    if value == "default":
        from lamella.backend.config import image_dim_ordering

        value = image_dim_ordering()
    if value not in ("th", "tf"):
        raise invalid(owner, "dim_ordering", "'th', 'tf' or 'default'", value)
    return value
