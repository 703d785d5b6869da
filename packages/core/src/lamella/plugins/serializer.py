"""The record a serializer plugin registers: file endings and what it can do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Serializer:
    """Save and load functions for files whose names end in one of ``extensions``.

    ``save_model(model, filepath, overwrite)``,
    ``load_model(filepath, custom_objects, compile, safe_mode) -> model``,
    ``save_weights(model, filepath, overwrite)``,
    ``load_weights(model, filepath, by_name)``.  A serializer may leave some out.  The
    two loads also get ``theano_kernels=True`` when the caller asks for Theano's
    convolution kernels to be flipped (only then); a format without that keyword refuses
    such a load with a TypeError.
    Writers must write atomically (a temporary file renamed over the target).
    """

    name: str
    extensions: tuple[str, ...]
    save_model: Callable[..., Any] | None = None
    load_model: Callable[..., Any] | None = None
    save_weights: Callable[..., Any] | None = None
    load_weights: Callable[..., Any] | None = None

    @property
    def __name__(self) -> str:  # registries default to an object's __name__
        return self.name
