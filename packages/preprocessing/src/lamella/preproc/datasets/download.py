"""Fetching published files: a cache folder, checksums, resumable and atomic downloads.

A download goes to ``<name>.part`` beside its target; an interrupted one leaves that
part, and the next call asks the server for the rest (an HTTP ``Range`` request).  The
file takes its real name only by ``os.replace`` once its checksum matched, so the cache
never holds a partial or corrupt file under a name a loader would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from lamella.backend.config import config_path
from lamella.utils.generic_utils import Progbar

__all__ = ["cache_dir", "get_file", "hash_file", "validate_file"]

CHUNK = 1 << 16


def cache_dir(cache_subdir: str = "datasets") -> Path:
    """``$LAMELLA_HOME/<cache_subdir>`` (``~/.lamella/datasets`` by default), created."""
    folder = config_path().parent / cache_subdir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _algorithm(file_hash: str, algorithm: str) -> str:
    """``'auto'`` picks sha256 for a 64-digit hash and md5 otherwise, as Keras does."""
    if algorithm == "auto":
        return "sha256" if len(file_hash) == 64 else "md5"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}")
    return algorithm


def hash_file(fpath: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in chunks so large archives need little memory."""
    digest = hashlib.new(algorithm)
    with open(fpath, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def validate_file(fpath: str | os.PathLike[str], file_hash: str, algorithm: str = "auto") -> bool:
    """Whether the file's sha256 or md5 (see ``algorithm``) is ``file_hash``."""
    return hash_file(fpath, _algorithm(file_hash, algorithm)) == file_hash.lower()


def get_file(
    fname: str,
    origin: str,
    untar: bool = False,
    md5_hash: str | None = None,
    cache_subdir: str = "datasets",
    file_hash: str | None = None,
    hash_algorithm: str = "auto",
) -> str:
    """The cached copy of ``origin`` named ``fname``, downloaded when missing or corrupt.

    With ``untar=True`` (Keras 1) ``fname`` names a folder: the archive is cached as
    ``<fname>.tar.gz`` and unpacked beside it.  ``file_hash`` (or Keras 1's ``md5_hash``)
    is checked after every download and on every cached file.
    """
    expected = file_hash or md5_hash
    folder = cache_dir(cache_subdir)
    target = folder / (f"{fname}.tar.gz" if untar else fname)
    if not (
        target.is_file() and (expected is None or validate_file(target, expected, hash_algorithm))
    ):
        download(origin, target, expected, hash_algorithm)
    if untar:
        unpacked = folder / fname
        if not unpacked.exists():
            _unpack(target, folder)
        return str(unpacked)
    return str(target)


def download(origin: str, target: Path, file_hash: str | None, algorithm: str = "auto") -> None:
    """Fetch ``origin`` into ``target`` through ``<target>.part``, resuming a part left over."""
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    print(f"Downloading data from {origin}")
    try:
        with urllib.request.urlopen(urllib.request.Request(origin, headers=headers)) as response:
            if offset and response.status != 206:  # the server sends the whole file again
                offset = 0
            _copy(response, part, offset)
    except urllib.error.HTTPError as error:
        if not (offset and error.code == 416):  # 416: the part already holds every byte
            raise OSError(f"could not download {origin}: {error}") from error
    except urllib.error.URLError as error:
        raise OSError(f"could not download {origin}: {error.reason}") from error
    if file_hash is not None:
        algorithm = _algorithm(file_hash, algorithm)
        got = hash_file(part, algorithm)
        if got != file_hash.lower():
            part.unlink()
            raise ValueError(
                f"the file downloaded from {origin} is corrupt: its {algorithm} is {got}, "
                f"the published one is {file_hash}; nothing was kept, try again"
            )
    os.replace(part, target)


def _copy(response, part: Path, offset: int) -> None:
    """Append the response to ``part`` (from ``offset``) with a progress bar."""
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length is not None else None
    bar = Progbar(total) if total else None
    done = offset
    with open(part, "ab" if offset else "wb") as file:
        file.truncate(offset)
        with contextlib.suppress(http.client.IncompleteRead, ConnectionError):  # told below
            while chunk := response.read(CHUNK):
                file.write(chunk)
                done += len(chunk)
                if bar is not None:
                    bar.update(done)
    if total is not None and done < total:
        raise OSError(
            f"the download stopped after {done} of {total} bytes; "
            f"call again to fetch the rest (kept in {part})"
        )


def _unpack(archive: Path, folder: Path) -> None:
    """Unpack a tar archive, refusing members that would land outside ``folder``."""
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
