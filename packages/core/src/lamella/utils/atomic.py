"""Atomic file writes: a crash or an error mid-save never leaves a half-written file.

Every writer of lamella's packages goes through :func:`replacing` (the HDF5 files of
lamella-io-hdf5, ``save_array``, ``save_config``), and so may a plugin's serializer.
The new file is written under a temporary name in the target's folder (so the final
rename stays on one file system), flushed to disk, then renamed over the target.  A
target that is a symbolic link is written through: the file it points to is replaced
and the link stays, as when h5py and Keras wrote the file in place.

A process killed mid-save leaves its temporary file behind.  Each save first removes
those of the same target that a dead process of this machine left: the temporary
name carries the host and the process id, and a file is removed only when that process
no longer runs, so a save under way in another process is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import stat
from collections.abc import Iterator

#: This machine, as written in temporary names (other machines may share the folder).
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


@contextlib.contextmanager
def replacing(filepath: str | os.PathLike[str], overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``filepath`` in one step.

    With ``overwrite=False`` an existing ``filepath`` raises FileExistsError before
    anything is written (Keras asked on the console; a library must not).  If the
    body raises, the temporary file is removed and ``filepath`` is left as it was.
    """
    given = os.path.abspath(os.fspath(filepath))
    target = os.path.realpath(given)  # through symbolic links, to the file they name
    folder, base = os.path.split(target)
    if not overwrite and os.path.exists(target):
        raise FileExistsError(f"{given!r} already exists and overwrite=False")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {given!r}: the folder {folder!r} does not exist")
    remove_stale(folder, base)
    temp = os.path.join(folder, f".{base}.{_HOST}-{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield temp
        _fsync(temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise
    if os.name == "posix":  # make the rename itself durable
        _fsync(folder)


def remove_stale(folder: str, base: str) -> None:
    """Remove the temporary files of ``base`` that killed saves on this machine left.
    Only POSIX can tell whether a process runs without touching it."""
    if os.name != "posix":
        return
    pattern = re.compile(rf"\.{re.escape(base)}\.{re.escape(_HOST)}-(\d+)\.[0-9a-f]{{8}}\.tmp")
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            found = pattern.fullmatch(entry.name)
            if found is None or _running(int(found.group(1))):
                continue
            with contextlib.suppress(OSError):
                if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                    os.remove(entry.path)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
