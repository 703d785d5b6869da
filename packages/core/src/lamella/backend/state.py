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


def set_learning_phase(value: int) -> None:
    if value not in (0, 1):
        raise ValueError(f"learning phase must be 0 or 1, got {value!r}")
    _phase.value = value


@contextlib.contextmanager
def learning_phase_scope(value: int) -> Iterator[None]:
    previous = learning_phase()
    set_learning_phase(value)
    try:
        yield
    finally:
        set_learning_phase(previous)


def get_uid(prefix: str = "") -> int:
    """1, 2, 3 ... per prefix: the numbers of automatic names like ``dense_1``."""
    return next(_uids[prefix])


def reset_uids() -> None:
    _uids.clear()
