"""Atomic file writes: a crash or an error mid-save never leaves a half-written file.

The new file is written under a temporary name in the target's folder (so the final
rename stays on one file system), flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator


@contextlib.contextmanager
def replacing(filepath: str | os.PathLike[str], overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``filepath`` in one step.

    With ``overwrite=False`` an existing ``filepath`` raises FileExistsError before
    anything is written (Keras asked on the console; a library must not).  If the
    body raises, the temporary file is removed and ``filepath`` is left as it was.
    """
    target = os.path.abspath(os.fspath(filepath))
    folder, base = os.path.split(target)
    if not overwrite and os.path.exists(target):
        raise FileExistsError(f"{target!r} already exists and overwrite=False")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {target!r}: the folder {folder!r} does not exist")
    temp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
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


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
