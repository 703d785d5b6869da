"""Every layer, core's and the plugins': ``from lamella.layers import Dense, LSTM``.

Layer classes are looked up in the registry when first used, so a layer that a
plugin provides is importable from here, and one whose package is missing says
which ``pip install`` brings it.
"""

from lamella.engine.merge import Merge, merge
from lamella.engine.topology import Input, InputLayer, InputSpec, Layer
from lamella.plugins import registry_facade

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())

__all__ = ["Input", "InputLayer", "InputSpec", "Layer", "Merge", "merge"]
