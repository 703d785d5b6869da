"""``lamella summary FILE.h5`` prints the summary of a model Keras saved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FILE = Path(__file__).resolve().parents[1] / "fixtures" / "keras_files" / "keras3_mlp.h5"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lamella.cli", "summary", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_summary_of_a_keras3_file() -> None:
    result = _run(str(FILE))
    assert result.returncode == 0, result.stderr
    # Keras's own count: Dense(6 -> 8) 56 and Dense(8 -> 3) 27 parameters.
    for text in ("dense (Dense)", "dropout (Dropout)", "dense_1 (Dense)", "Total params: 83"):
        assert text in result.stdout


def test_summary_without_the_hdf5_plugin_names_the_package() -> None:
    result = _run(str(FILE), LAMELLA_DISABLE_PLUGINS="io-hdf5")
    assert result.returncode == 1
    assert "pip install" in result.stderr and "lamella-io-hdf5" in result.stderr


def test_summary_of_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "absent.h5"))
    assert result.returncode == 1
    assert "absent.h5" in result.stderr and "Traceback" not in result.stderr
