"""The ``lamella`` command's own surface: help, ``--version`` and a bare ``lamella``.

What each command prints is tested beside what it reports on (``lamella plugins`` and
``lamella info`` in test_plugins.py, ``lamella summary`` with lamella-io-hdf5).
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from lamella import cli


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lamella.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_a_bare_lamella_shows_the_help_not_an_error():
    result = _run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lamella")
    assert result.stderr == ""


@pytest.mark.parametrize("argv", [["--help"], []], ids=["--help", "no arguments"])
def test_the_help_names_every_command_in_plain_text(argv, capsys):
    if argv:
        with pytest.raises(SystemExit) as caught:
            cli.main(argv)
        assert caught.value.code == 0
    else:
        assert cli.main(argv) == 0
    out = capsys.readouterr().out
    for command in ("plugins", "info", "summary", "--version", "lamella summary model.h5"):
        assert command in out
    assert "``" not in out  # docstring markup has no business on a terminal


def test_summary_has_a_help_of_its_own(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["summary", "--help"])
    assert caught.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "usage: lamella summary [-h] FILE" in out
    assert "nothing stored in the file runs" in out


def test_version_lists_every_installed_lamella_package_core_first(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"lamella-core {metadata.version('lamella-core')}"
    installed = {
        dist.metadata["Name"]: dist.version
        for dist in metadata.distributions()
        if (dist.metadata["Name"] or "").startswith("lamella-")
    }
    assert dict(line.split(" ", 1) for line in lines) == installed


def test_an_unknown_command_is_a_usage_error_not_a_traceback():
    result = _run("bogus")
    assert result.returncode == 2
    assert "invalid choice: 'bogus'" in result.stderr and "Traceback" not in result.stderr
