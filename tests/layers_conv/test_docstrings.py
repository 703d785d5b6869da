"""Every layer of lamella-layers-conv documents its arguments and shapes.

The ``Args:`` section of each registered class must name every argument of its
constructor, and ``Input shape:`` / ``Output shape:`` must say what it takes and
gives, so that ``help(Convolution2D)`` answers what Keras 1's documentation did.
"""

from __future__ import annotations

import pytest

from lamella.plugins import registry
from lamella.testing.docstrings import SHAPE_SECTIONS, check_docstring


def _conv_layers() -> list[type]:
    entries = registry("layers").entries.values()
    return [e.obj for e in entries if e.provider.distribution == "lamella-layers-conv"]


def test_every_conv_layer_is_checked() -> None:
    names = {cls.__name__ for cls in _conv_layers()}
    assert {"Convolution2D", "MaxPooling2D", "Cropping3D", "LocallyConnected1D"} <= names


@pytest.mark.parametrize("cls", _conv_layers(), ids=lambda cls: cls.__name__)
def test_layer_documents_arguments_and_shapes(cls: type) -> None:
    check_docstring(cls, SHAPE_SECTIONS)
