"""The ``pip install`` commands lamella prints and its documents show work from a clone.

lamella's packages are not on the package index yet, so a message naming
``pip install lamella-<x>`` also names the clone's folders, and pip takes a lamella-*
requirement from a folder only when that folder is on the same command line: a command
that installs a package must also name the first-party packages it needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lamella.plugins import errors
from lamella.plugins.first_party import FIRST_PARTY, install_command

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "packages").glob("*/README.md")),
    *sorted((ROOT / "examples").glob("**/README.md")),
]


def project(folder: str) -> dict:
    """The [project] table of packages/<folder>/pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]


def lamella_needs(folder: str) -> set[str]:
    """The folders of the first-party packages that packages/<folder> requires, core aside."""
    names = {re.match(r"[\w-]+", dep).group() for dep in project(folder)["dependencies"]}
    return {n.removeprefix("lamella-") for n in names if n.startswith("lamella-")} - {"core"}


def folders(command: str) -> list[str]:
    return re.findall(r"packages/([\w*-]+)", command)


def test_a_missing_package_names_its_index_name_and_its_folder_in_a_clone(monkeypatch):
    monkeypatch.setattr(errors, "installed_version", lambda dist: None)
    text = str(errors.MissingPluginError("Convolution2D", "lamella-layers-conv"))
    assert "Install it with: pip install lamella-layers-conv, or in a clone" in text
    assert text.endswith("at its root: pip install ./packages/layers-conv")


def test_an_outdated_package_gets_both_upgrade_commands(monkeypatch):
    monkeypatch.setattr(errors, "installed_version", lambda dist: "0.0.1")
    text = str(errors.MissingPluginError("Nadam", "lamella-optimizers"))
    assert "upgrade it with: pip install -U lamella-optimizers, or in a clone" in text
    assert text.endswith("pip install -U ./packages/optimizers")


def test_another_projects_package_gets_only_its_index_name(monkeypatch):
    monkeypatch.setattr(errors, "installed_version", lambda dist: None)
    text = str(errors.MissingPluginError("lamella.wrappers.scikit_learn", "scikit-learn"))
    assert text.endswith("Install it with: pip install scikit-learn")


@pytest.mark.parametrize("dist", sorted(FIRST_PARTY))
def test_each_clone_command_brings_the_lamella_packages_the_package_needs(dist):
    """lamella-core is installed wherever the message shows, so only the others are named."""
    named = folders(install_command(dist))
    assert named[-1] == dist.removeprefix("lamella-")
    assert project(named[-1])["name"] == dist
    assert set(named[:-1]) == lamella_needs(named[-1])
    assert len(named) == len(set(named))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_each_install_line_of_a_document_names_what_its_packages_need(document):
    """A line that installs from the clone names real folders, every first-party package they
    need, and ``-c constraints.txt`` with lamella-core (the tested torch, not the newest)."""
    for line in document.read_text().splitlines():
        named = folders(line)
        if "pip install" not in line or not named or "*" in named:
            continue
        for folder in named:
            assert (ROOT / "packages" / folder / "pyproject.toml").is_file(), line
            assert lamella_needs(folder) <= set(named), line
        if "core" in named:
            assert re.search(r"-c \S*constraints\.txt", line), line
