"""Keras 1's ``layers.recurrent`` module path; its layers come from lamella-layers-recurrent.

``time_distributed_dense`` is core's, so it is here without that package.
"""

from typing import TYPE_CHECKING

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.layers._timesteps import time_distributed_dense  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade

if TYPE_CHECKING:
    # What the registry gives this module path, for type checkers and IDEs only
    # (tests/core/test_facade_declarations.py keeps it in step).
    from lamella.recurrent import recurrent as _plugin

    Recurrent = _plugin.Recurrent
    SimpleRNN = _plugin.SimpleRNN
    GRU = _plugin.GRU
    LSTM = _plugin.LSTM

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
