"""Every layer of lamella-layers-recurrent documents its arguments and shapes.

The ``Args:`` section of each registered class must name every argument of its
constructor, and ``Input shape:`` / ``Output shape:`` must say what it takes and
gives, so that ``help(LSTM)`` answers what Keras 1's documentation did.
"""

from __future__ import annotations

import pytest

from lamella.plugins import registry
from lamella.testing.docstrings import SHAPE_SECTIONS, check_docstring, documented_arguments


def _recurrent_layers() -> list[type]:
    entries = registry("layers").entries.values()
    return [e.obj for e in entries if e.provider.distribution == "lamella-layers-recurrent"]


def test_every_recurrent_layer_is_checked() -> None:
    names = {cls.__name__ for cls in _recurrent_layers()}
    assert {"LSTM", "GRU", "SimpleRNN", "ConvLSTM2D", "Bidirectional"} <= names


@pytest.mark.parametrize("cls", _recurrent_layers(), ids=lambda cls: cls.__name__)
def test_layer_documents_arguments_and_shapes(cls: type) -> None:
    check_docstring(cls, SHAPE_SECTIONS)


def test_recurrent_base_documents_what_every_recurrent_layer_takes() -> None:
    """SimpleRNN, GRU and LSTM take these through ``**kwargs`` and point to Recurrent."""
    recurrent = registry("layers").get("Recurrent")
    documented = set(documented_arguments(recurrent.__doc__ or ""))
    assert {"return_sequences", "go_backwards", "stateful", "unroll", "consume_less"} <= documented
