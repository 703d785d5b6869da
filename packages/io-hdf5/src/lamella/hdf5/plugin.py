"""The hook module of lamella-io-hdf5, named by its ``lamella`` entry point.

It registers the ``hdf5`` serializer for files ending in ``.h5`` and ``.hdf5``:
``model.save``, ``load_model``, ``model.save_weights`` and ``model.load_weights``
in Keras 1.2.2's layout.  h5py and the reader and writer are imported inside the
hook, so loading this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamella.plugins import Serializer, hookimpl

LAMELLA_PLUGIN_API = 1


@hookimpl
def lamella_register_serializers(register: Callable[..., Any]) -> None:
    from lamella.hdf5 import reader, writer

    serializer = Serializer(
        name="hdf5",
        extensions=(".h5", ".hdf5"),
        save_model=writer.save_model,
        load_model=reader.load_model,
        save_weights=writer.save_weights,
        load_weights=reader.load_weights,
    )
    register(serializer, name="hdf5", aliases=(".h5", ".hdf5"))
