"""Keras 1's ``layers.local`` module path; its layers come from lamella-layers-conv."""

from typing import TYPE_CHECKING

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade
from lamella.utils.np_utils import conv_output_length  # noqa: F401  (Keras 1 names of this module)

if TYPE_CHECKING:
    # What the registry gives this module path, for type checkers and IDEs only
    # (tests/core/test_facade_declarations.py keeps it in step).
    from lamella.conv import local as _plugin

    LocallyConnected1D = _plugin.LocallyConnected1D
    LocallyConnected2D = _plugin.LocallyConnected2D

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
