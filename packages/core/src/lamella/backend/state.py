"""Process-wide state that Keras 1 code reads: the learning phase and name counters."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator

_phase = threading.local()
_uids: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


def learning_phase() -> int:
    """1 while a model trains, 0 while it is evaluated or predicts."""
    return getattr(_phase, "value", 0)


def learning_phase_is_fixed() -> bool:
    """Whether the user fixed the phase with ``K.set_learning_phase`` (then Keras 1's
    ``K.learning_phase()`` is that number rather than a placeholder)."""
    return getattr(_phase, "fixed", False)


def set_learning_phase(value: int) -> None:
    """Fix the learning phase for everything that follows, as Keras 1's function does."""
    _set(value)
    _phase.fixed = True


def unfix_learning_phase() -> None:
    """Back to the placeholder: the phase follows training and evaluation again."""
    _phase.fixed = False


def _set(value: int) -> None:
    if isinstance(value, bool) or value not in (0, 1):
        raise ValueError(f"learning phase must be 0 or 1, got {value!r}")
    _phase.value = int(value)


@contextlib.contextmanager
def learning_phase_scope(value: int) -> Iterator[None]:
    """Run the block in phase ``value`` (the engine's own switch: it fixes nothing)."""
    previous = learning_phase()
    _set(value)
    try:
        yield
    finally:
        _set(previous)


def get_uid(prefix: str = "") -> int:
    """1, 2, 3 ... per prefix: the numbers of automatic names like ``dense_1``."""
    return next(_uids[prefix])


def reset_uids() -> None:
    _uids.clear()


@contextlib.contextmanager
def uids_kept() -> Iterator[None]:
    """Run the block, then put the name counters back as they were: a model built only to
    be measured (on torch's meta device) must not shift the names of later layers."""
    saved = {prefix: next(counter) for prefix, counter in list(_uids.items())}
    _uids.update({prefix: itertools.count(number) for prefix, number in saved.items()})
    try:
        yield
    finally:
        _uids.clear()
        _uids.update({prefix: itertools.count(number) for prefix, number in saved.items()})
