"""Every layer, core's and the plugins': ``from lamella.layers import Dense, LSTM``.

Layer classes are looked up in the registry when first used, so a layer that a
plugin provides is importable from here, and one whose package is missing says
which ``pip install`` brings it.
"""

from lamella.engine.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Merge,
    Multiply,
    add,
    average,
    concatenate,
    dot,
    maximum,
    merge,
    multiply,
)
from lamella.engine.topology import Input, InputLayer, InputSpec, Layer
from lamella.layers._timesteps import time_distributed_dense
from lamella.plugins import registry_facade
from lamella.utils.generic_utils import func_dump, func_load, get_from_module
from lamella.utils.np_utils import conv_input_length, conv_output_length

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())

__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Input",
    "InputLayer",
    "InputSpec",
    "Layer",
    "Maximum",
    "Merge",
    "Multiply",
    "add",
    "average",
    "concatenate",
    "conv_input_length",
    "conv_output_length",
    "dot",
    "func_dump",
    "func_load",
    "get_from_module",
    "maximum",
    "merge",
    "multiply",
    "time_distributed_dense",
]
