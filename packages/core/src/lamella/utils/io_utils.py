"""Keras 1's ``utils.io_utils``: arrays on disk and the overwrite prompt.

``HDF5Matrix`` needs h5py, so it is lamella-io-hdf5's (``lamella.hdf5.matrix``);
this module forwards the name there.  ``save_array``/``load_array`` write numpy's
``.npy`` format (Keras 1 used PyTables): no pickled objects either way.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from lamella.plugins import module_facade
from lamella.utils.atomic import replacing

if TYPE_CHECKING:  # type checkers and IDEs read the plugin's module itself
    from lamella.hdf5.matrix import *  # noqa: F403
else:
    __getattr__, __dir__ = module_facade(__name__, "lamella.hdf5.matrix", globals())


def save_array(array: Any, name: str | os.PathLike[str]) -> None:
    """Write ``array`` to the file ``name`` (numpy's .npy format, whatever the file's ending).

    The file is written under a temporary name beside it and renamed over
    ``name``, so an interrupted save never leaves half a file.  Object arrays are
    refused: they could only be stored pickled.
    """
    data = np.asarray(array)
    if data.dtype.hasobject:
        raise TypeError(
            f"save_array: cannot store an array of Python objects (dtype {data.dtype}) without "
            "pickling; convert it to a numeric or string dtype first"
        )
    folder = os.path.dirname(os.path.abspath(os.fspath(name)))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save_array: the folder {folder!r} does not exist")
    with replacing(name) as temp, open(temp, "xb") as f:
        np.save(f, data, allow_pickle=False)


def load_array(name: str | os.PathLike[str]) -> np.ndarray:
    """The array :func:`save_array` wrote to ``name`` (never unpickles anything)."""
    target = os.fspath(name)
    try:
        with open(target, "rb") as f:
            return np.load(f, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(
            f"load_array: {target!r} is not an array written by save_array ({exc})"
        ) from None


def ask_to_proceed_with_overwrite(filepath: str | os.PathLike[str]) -> bool:
    """Ask on the console whether to overwrite ``filepath``; True for 'y', False for 'n'."""
    answer = input(f"[WARNING] {os.fspath(filepath)} already exists - overwrite? [y/n]")
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).')
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True
