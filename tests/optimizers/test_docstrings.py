"""Every optimizer of lamella-optimizers documents its hyperparameters.

The ``Args:`` section of each registered class must name every argument of its
constructor, so that ``help(Adam)`` gives the defaults and what each one does.
"""

from __future__ import annotations

import pytest

from lamella.plugins import registry
from lamella.testing.docstrings import check_docstring


def _optimizers() -> list[type]:
    entries = registry("optimizers").entries.values()
    return [e.obj for e in entries if e.provider.distribution == "lamella-optimizers"]


def test_every_keras1_optimizer_is_checked() -> None:
    names = {cls.__name__ for cls in _optimizers()}
    assert names >= {"SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam"}


@pytest.mark.parametrize("cls", _optimizers(), ids=lambda cls: cls.__name__)
def test_optimizer_documents_arguments(cls: type) -> None:
    check_docstring(cls)
