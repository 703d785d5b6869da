"""Markers shared by every test folder.

``requires_absent("lamella-layers-conv")`` runs a test only where that
distribution is not installed (the core-only session checks install hints);
``requires("lamella-layers-conv")`` only where it is (a cross-package test,
skipped in its package's own session and run in the all-packages one);
``cuda`` runs a test only where torch sees a GPU.
"""

from __future__ import annotations

from importlib import metadata

import pytest
import torch


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
