"""Where a loader's file comes from: the user's own copy, or the published one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamella.preproc.datasets.download import cache_dir, get_file, validate_file

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


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
    """Arrays of a numeric ``.npz``; numpy refuses to unpickle anything in it."""
    file, _ = locate(path, published)
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


def _checked(archive: Any, keys: tuple[str, ...], file: Path) -> tuple[str, ...]:
    missing = [key for key in keys if key not in archive.files]
    if missing:
        raise ValueError(f"{file} lacks the arrays {missing}; it has {sorted(archive.files)}")
    return keys
