"""Extract folders of a Keras tag from a git checkout or mirror, without a work tree."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path


def extract(repo: Path, tag: str, folder: str, dest: Path) -> Path:
    """Write ``folder`` as it is at ``tag`` under ``dest``; return ``dest / folder``."""
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", tag, folder],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / folder
