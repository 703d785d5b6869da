"""Keras 1's ``layers.wrappers`` module path; its layers come from lamella-layers-recurrent."""

from typing import TYPE_CHECKING

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade

if TYPE_CHECKING:
    # What the registry gives this module path, for type checkers and IDEs only
    # (tests/core/test_facade_declarations.py keeps it in step).
    from lamella.recurrent import wrappers as _plugin

    Wrapper = _plugin.Wrapper
    TimeDistributed = _plugin.TimeDistributed
    Bidirectional = _plugin.Bidirectional

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
