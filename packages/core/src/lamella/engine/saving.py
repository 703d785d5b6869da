"""Saving and loading models through the serializer registered for a file's ending."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from typing import Any

from lamella.plugins import Serializer, serializer_for
from lamella.utils.generic_utils import custom_objects_in_effect

#: What a load refuses to hand to a serializer: opening a named pipe waits for a writer
#: forever, and a device or a socket may stream without end.  (A folder may be a format.)
_STREAMS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def serializer_doing(action: str, filepath: str | os.PathLike[str]) -> Serializer:
    """The serializer for ``filepath``; an error names the format if it cannot ``action``.

    A load from a named pipe, a device or a socket is refused here, for every format.
    """
    if action.startswith("load"):
        _refuse_streams(os.fspath(filepath))
    serializer = serializer_for(os.fspath(filepath))
    if getattr(serializer, action) is None:
        raise NotImplementedError(
            f"The {serializer.name} format cannot {action.replace('_', ' ')} "
            f"({os.fspath(filepath)!r})"
        )
    return serializer


def _refuse_streams(path: str) -> None:
    try:
        kind = _STREAMS.get(stat.S_IFMT(os.stat(path).st_mode))
    except OSError:  # missing or unreadable: the serializer says so, naming the file
        return
    if kind is not None:
        raise OSError(
            f"Cannot load from {path!r}: it is not a regular file (it is {kind}); save the "
            "model to a file and load that"
        )


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    serializer_doing("save_model", filepath).save_model(model, os.fspath(filepath), overwrite)


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
    theano_kernels: bool = False,
) -> Any:
    """A model from a file written by ``model.save`` (or by Keras, where the format can).

    ``safe_mode=True`` refuses to run code stored in the file (a Lambda's
    function); only the caller, never the file, can turn it off.  Custom layers,
    losses and metrics come from ``custom_objects``, then from the global custom
    objects (``custom_object_scope``).  ``theano_kernels=True`` says the file's
    convolution kernels were trained with Theano, which flips them: they are
    flipped back as they load (Keras 1 files do not say which backend wrote them).
    """
    options = {"theano_kernels": True} if theano_kernels else {}  # for formats that take it
    return serializer_doing("load_model", filepath).load_model(
        os.fspath(filepath), custom_objects_in_effect(custom_objects), compile, safe_mode, **options
    )
