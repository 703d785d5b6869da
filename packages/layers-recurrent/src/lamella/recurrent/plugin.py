"""The hook module of lamella-layers-recurrent, named by its ``lamella`` entry point.

It registers the recurrent layers, ConvLSTM2D and the wrappers under their Keras 1 class
names.  The layer modules are imported inside the hook, so loading this module
costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamella.plugins import hookimpl, register_layers

LAMELLA_PLUGIN_API = 1


@hookimpl
def lamella_register_layers(register: Callable[..., Any]) -> None:
    from lamella.recurrent import convolutional_recurrent, recurrent, wrappers

    register_layers(register, recurrent, convolutional_recurrent, wrappers)
