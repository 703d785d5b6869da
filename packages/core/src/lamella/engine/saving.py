"""Saving and loading models through the serializer registered for a file's ending."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lamella.plugins import Serializer, serializer_for
from lamella.utils.generic_utils import custom_objects_in_effect


def serializer_doing(action: str, filepath: str | os.PathLike[str]) -> Serializer:
    """The serializer for ``filepath``; an error names the format if it cannot ``action``."""
    serializer = serializer_for(os.fspath(filepath))
    if getattr(serializer, action) is None:
        raise NotImplementedError(
            f"The {serializer.name} format cannot {action.replace('_', ' ')} "
            f"({os.fspath(filepath)!r})"
        )
    return serializer


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    serializer_doing("save_model", filepath).save_model(model, os.fspath(filepath), overwrite)


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Any:
    """A model from a file written by ``model.save`` (or by Keras, where the format can).

    ``safe_mode=True`` refuses to run code stored in the file (a Lambda's
    function); only the caller, never the file, can turn it off.  Custom layers,
    losses and metrics come from ``custom_objects``, then from the global custom
    objects (``custom_object_scope``).
    """
    return serializer_doing("load_model", filepath).load_model(
        os.fspath(filepath), custom_objects_in_effect(custom_objects), compile, safe_mode
    )
