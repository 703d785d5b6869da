"""Keras 1's legacy weight-ordering flag.

Keras 1.2.2 kept it for models saved by older versions: when set, a container orders the
layers of equal depth in its graph by name rather than by the order they were called in,
which changes the order of ``model.layers`` and so of the weight lists saved and loaded.
"""

from __future__ import annotations

__all__ = ["legacy_weight_ordering", "set_legacy_weight_ordering"]

_legacy = False


def legacy_weight_ordering() -> bool:
    """Whether layers of equal depth are ordered by name (off by default)."""
    return _legacy


def set_legacy_weight_ordering(value: bool) -> None:
    global _legacy
    if value not in (True, False):
        raise ValueError(f"set_legacy_weight_ordering: value must be True or False, got {value!r}")
    _legacy = bool(value)
