"""Where a loader's file comes from: the user's own copy, or the published one."""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamella.utils.data_utils import cache_dir, get_file, validate_file

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

#: The arrays of an ``.npz`` that is not the published file may declare at most this many
#: times the archive's size, plus SLACK bytes: numpy allocates what a header declares
#: before reading, and a compressed archive of 3 MB can declare 3 GB.  Real datasets
#: compress far less (MNIST about 5 to 1).
EXPANSION = 64
SLACK = 1 << 20


@dataclass(frozen=True)
class Published:
    """A file as its publisher serves it: the address and the checksum (sha256 or md5)."""

    origin: str
    file_hash: str


def locate(path: str, published: Published) -> tuple[Path, bool]:
    """The file to read, and whether it is byte for byte the published one.

    ``path`` naming an existing file is the user's copy (offline use, nothing is
    downloaded); a bare file name that names none is a file in the cache, fetched when
    missing and always checked.  A path with folders that does not exist is an error,
    not a download to some other place.
    """
    given = Path(path).expanduser()
    if given.is_file():
        return given, validate_file(given, published.file_hash)
    if given.name != str(path):
        raise FileNotFoundError(
            f"{path} does not exist; pass an existing file, or a bare file name to use "
            f"the cache ({cache_dir()})"
        )
    return Path(get_file(str(path), published.origin, file_hash=published.file_hash)), True


def read_npz(path: str, published: Published, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Arrays of a numeric ``.npz``; numpy refuses to unpickle anything in it, and a file
    that is not the published one is held to what its size can honestly declare."""
    file, verified = locate(path, published)
    if not verified:
        _check_declared(file, keys)
    with np.load(file, allow_pickle=False) as archive:
        return {key: archive[key] for key in _checked(archive, keys, file)}


def read_object_npz(
    path: str, published: Published, keys: tuple[str, ...], allow_pickle: bool = False
) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` holding object arrays, which numpy stores pickled.

    Unpickling can run any code, so only the published file (its checksum) is opened
    that way, unless the caller vouches for the file with ``allow_pickle=True``.
    """
    file, verified = locate(path, published)
    if not (verified or allow_pickle):
        raise ValueError(
            f"{file} is not the published file (its checksum is not {published.file_hash}); "
            "it holds object arrays, which numpy reads only by unpickling, and lamella "
            "unpickles nothing it cannot verify. If you trust this file, pass allow_pickle=True"
        )
    with np.load(file, allow_pickle=True) as archive:
        return {key: archive[key] for key in _checked(archive, keys, file)}


def read_word_index(path: str, published: Published) -> dict[str, int]:
    """A ``get_word_index()`` table: word -> frequency rank, read with ``json.load``."""
    file, _ = locate(path, published)
    with open(file, encoding="utf-8") as handle:
        return json.load(handle)


def _check_declared(file: Path, keys: tuple[str, ...]) -> None:
    """Refuse an archive whose arrays ``keys`` declare more than ``EXPANSION`` times its
    size, reading only their headers.  What is not a readable ``.npz`` is left for
    ``np.load`` to report."""
    size = file.stat().st_size
    total = 0
    try:
        with zipfile.ZipFile(file) as archive:
            for key in keys:
                if f"{key}.npy" in archive.namelist():
                    with archive.open(f"{key}.npy") as member:
                        total += _declared_bytes(member)
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    if total > EXPANSION * size + SLACK:
        raise ValueError(
            f"{file} declares {total} bytes of arrays in an archive of {size} bytes, more than "
            f"{EXPANSION} times its size; lamella reads such archives only when they are the "
            "published file (checked by its checksum)"
        )


def _declared_bytes(member: Any) -> int:
    """The bytes the ``.npy`` header at the start of ``member`` declares."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    else:  # 2.0, and 3.0 (2.0 in UTF-8, which ASCII headers also are)
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    return math.prod(shape) * dtype.itemsize


def _checked(archive: Any, keys: tuple[str, ...], file: Path) -> tuple[str, ...]:
    missing = [key for key in keys if key not in archive.files]
    if missing:
        raise ValueError(f"{file} lacks the arrays {missing}; it has {sorted(archive.files)}")
    return keys
