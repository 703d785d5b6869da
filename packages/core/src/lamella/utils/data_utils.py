"""Keras 1's ``utils.data_utils``: fetching published files into lamella's cache.

``get_file`` serves the dataset loaders of lamella-preprocessing and the pretrained
weights of lamella-applications, so it lives in core.  A download goes to
``<name>.part`` beside its target; an interrupted one leaves that part, and the next
call asks the server for the rest (an HTTP ``Range`` request).  The file takes its real
name only by ``os.replace`` once its checksum matched, so the cache never holds a
partial or corrupt file under a name a loader would trust.

Processes that want the same file at once (the ranks of a ``torchrun`` job calling
``mnist.load_data()``) take turns through a lock file, ``$LAMELLA_HOME/.locks/<cache
folder>/<name>.lock`` (out of the cache folder, which holds only whole files): one
downloads, the others wait and then find the file in the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlretrieve  # noqa: F401  (Keras 1 re-exported it here)

import filelock

from lamella.backend.config import config_path
from lamella.utils.generic_utils import Progbar

__all__ = ["cache_dir", "get_file", "hash_file", "validate_file"]

CHUNK = 1 << 16
TIMEOUT = 60.0  # seconds a stalled connection may stay silent before the download fails


def cache_dir(cache_subdir: str = "datasets") -> Path:
    """``$LAMELLA_HOME/<cache_subdir>`` (``~/.lamella/datasets`` by default): the cache
    sits beside lamella's settings file, wherever core finds that."""
    return config_path().parent / cache_subdir


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
    unpacked = folder / fname if untar else target

    def fetched() -> bool:
        return target.is_file() and (
            expected is None or validate_file(target, expected, hash_algorithm)
        )

    # Checked without the lock first, so a cached file is served even from a read-only cache.
    if not (fetched() and unpacked.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        with _turn(target):
            if not fetched():  # another process may have fetched it while this one waited
                download(origin, target, expected, hash_algorithm)
            if not unpacked.exists():
                _unpack(target, folder)
    return str(unpacked)


@contextlib.contextmanager
def _turn(target: Path) -> Iterator[None]:
    """Hold the lock file of ``target`` (a lock between processes) while it is written."""
    folder = config_path().parent / ".locks" / target.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(folder / f"{target.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        print(f"Waiting for another process to finish {target.name} ({lock.lock_file})", flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def download(origin: str, target: Path, file_hash: str | None, algorithm: str = "auto") -> None:
    """Fetch ``origin`` into ``target`` through ``<target>.part``, resuming a part left over."""
    part = target.with_name(target.name + ".part")
    print(f"Downloading data from {origin}")
    if not _fetch(origin, part):  # the part was unusable and is gone: start over once
        _fetch(origin, part)
    if file_hash is not None:
        algorithm = _algorithm(file_hash, algorithm)
        got = hash_file(part, algorithm)
        if got != file_hash.lower():
            part.unlink()
            raise ValueError(
                f"{target.name} downloaded from {origin} is corrupt: its {algorithm} is "
                f"{got}, the published one is {file_hash}; nothing was kept, try again"
            )
    os.replace(part, target)


def _fetch(origin: str, part: Path) -> bool:
    """Bring ``part`` to the whole file; False when a left-over part had to be dropped."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        request = urllib.request.Request(origin, headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            if offset and response.status == 206:
                if not _starts_at(response.headers.get("Content-Range"), offset):
                    part.unlink()  # the server sent some other range: ask for everything
                    return False
            else:
                offset = 0  # a 200: the server sends the whole file again
            _copy(response, part, offset)
    except urllib.error.HTTPError as error:
        if not (offset and error.code == 416):  # 416: nothing is left after ``offset``
            raise OSError(f"could not download {origin}: {error}") from error
        if _full_length(error.headers.get("Content-Range")) != offset:
            part.unlink()  # the part is longer than the file, or the server would not say
            return False
    except urllib.error.URLError as error:
        raise OSError(f"could not download {origin}: {error.reason}") from error
    return True


def _starts_at(content_range: str | None, offset: int) -> bool:
    """Whether a 206's ``Content-Range: bytes a-b/n`` starts at ``offset``."""
    return (content_range or "").strip().startswith(f"bytes {offset}-")


def _full_length(content_range: str | None) -> int | None:
    """The ``n`` of a 416's ``Content-Range: bytes */n``, if the server gave one."""
    total = (content_range or "").rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _copy(response, part: Path, offset: int) -> None:
    """Write the response into ``part`` from ``offset`` on, with a progress bar."""
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length is not None else None
    bar = Progbar(total) if total else None
    done = offset
    try:
        with open(part, "r+b" if offset else "wb") as file:
            file.seek(offset)
            file.truncate()
            while chunk := response.read(CHUNK):
                file.write(chunk)
                done += len(chunk)
                if bar is not None:
                    bar.update(done, force=done >= total)
    except (http.client.HTTPException, OSError) as error:  # a cut connection, a timeout
        raise OSError(_stopped(done, total, part) + f" ({error!r})") from error
    if total is not None and done < total:
        raise OSError(_stopped(done, total, part))


def _stopped(done: int, total: int | None, part: Path) -> str:
    of = f" of {total}" if total is not None else ""
    return f"the download stopped after {done}{of} bytes; call again to fetch the rest ({part})"


def _unpack(archive: Path, folder: Path) -> None:
    """Unpack a tar archive into ``folder``, refusing members that would land outside it.

    Everything is unpacked into a staging folder first and each top-level entry then
    takes its name by ``os.replace``, so an interrupted unpack never leaves a half-filled
    folder under the name :func:`get_file` looks for.
    """
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.10.12 / 3.11.4 on
                tar.extractall(staging, filter="data")
            else:
                tar.extractall(staging, members=_plain_members(tar, staging))
        for entry in staging.iterdir():
            if not (folder / entry.name).exists():
                os.replace(entry, folder / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _plain_members(tar: tarfile.TarFile, root: Path) -> list[tarfile.TarInfo]:
    """The members, when every one is a plain file or folder that stays inside ``root``."""
    inside = root.resolve()
    members = tar.getmembers()
    for member in members:
        landing = (inside / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not landing.is_relative_to(inside):
            raise tarfile.TarError(
                f"{tar.name}: refusing {member.name!r}: only plain files and folders "
                "inside the destination are unpacked"
            )
    return members
