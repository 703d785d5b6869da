"""The hook module of lamella-layers-conv, named by its ``lamella`` entry point.

It registers every convolution, pooling, padding, cropping, up-sampling and locally
connected layer under its Keras 1 class name, the convolutions also under their Keras
aliases (``Conv2D`` ...).  The layer modules are imported inside the hook, so loading
this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamella.plugins import hookimpl, register_layers

LAMELLA_PLUGIN_API = 1

#: Keras 1's short names for the convolutions; Keras 2's names come from the one table of
#: Keras 2 spellings (lamella.keras2.tables).
ALIASES = {
    "Convolution1D": ("Conv1D",),
    "AtrousConvolution1D": ("AtrousConv1D",),
    "Convolution2D": ("Conv2D",),
    "AtrousConvolution2D": ("AtrousConv2D",),
    "SeparableConvolution2D": ("SeparableConv2D",),
    "Deconvolution2D": ("Deconv2D",),
    "Convolution3D": ("Conv3D",),
}


@hookimpl
def lamella_register_layers(register: Callable[..., Any]) -> None:
    from lamella.conv import convolutional, local, pooling
    from lamella.keras2.tables import keras2_names

    def aliases(name: str) -> tuple[str, ...]:
        return (*ALIASES.get(name, ()), *keras2_names(name))

    register_layers(register, convolutional, pooling, local, aliases=aliases)
