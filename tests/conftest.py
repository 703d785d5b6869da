"""Markers shared by every test folder.

``requires_absent("lamella-layers-conv")`` runs a test only where that
distribution is not installed (the core-only session checks install hints);
``requires("lamella-layers-conv")`` only where it is (a cross-package test,
skipped in its package's own session and run in the all-packages one);
``cuda`` runs a test only where torch sees a GPU.  ``--cross-package`` (nox's all
session) runs only what the per-package sessions cannot.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent
PACKAGES = TESTS.parent / "packages"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cross-package",
        action="store_true",
        help="run only what no package's own session runs: the tests outside the package "
        "folders (e2e, plugins ...) and the tests marked requires (nox's all session)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--cross-package``, leave out the tests a package's own session already ran
    with only that package installed (tests/<package>/ without a ``requires`` marker)."""
    if not config.getoption("--cross-package"):
        return
    kept, dropped = [], []
    for item in items:
        folder = Path(item.path).relative_to(TESTS).parts[0]
        own = (PACKAGES / folder.replace("_", "-")).is_dir()
        (dropped if own and not item.get_closest_marker("requires") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires"):
        for distribution in marker.args:
            if not _installed(distribution):
                pytest.skip(f"needs {distribution}")
    for marker in item.iter_markers("requires_absent"):
        for distribution in marker.args:
            if _installed(distribution):
                pytest.skip(f"needs {distribution} to be absent")
    if item.get_closest_marker("cuda") and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")


@pytest.fixture(autouse=True)
def _fresh_names():
    """Automatic layer names restart at 1 in every test, as in a fresh Python."""
    from lamella.backend import reset_uids

    reset_uids()
    yield
