"""Keras 1's ``layers.wrappers`` module path; its layers come from lamella-layers-recurrent."""

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
