"""Keras 1's ``layers.convolutional_recurrent`` module path; ConvLSTM2D comes from
lamella-layers-recurrent."""

from typing import TYPE_CHECKING

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade
from lamella.utils.np_utils import conv_output_length  # noqa: F401  (Keras 1 names of this module)

if TYPE_CHECKING:
    # What the registry gives this module path, for type checkers and IDEs only
    # (tests/core/test_facade_declarations.py keeps it in step).
    from lamella.recurrent import convolutional_recurrent as _plugin

    ConvRecurrent2D = _plugin.ConvRecurrent2D
    ConvLSTM2D = _plugin.ConvLSTM2D

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
