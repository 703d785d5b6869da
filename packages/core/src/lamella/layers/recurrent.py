"""Keras 1's ``layers.recurrent`` module path; its layers come from lamella-layers-recurrent.

``time_distributed_dense`` is core's, so it is here without that package.
"""

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.layers._timesteps import time_distributed_dense  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
