"""What Keras 1.2.2's HDF5 files hold and in which order, for both directions.

The package README's "The files it writes" describes the layout."""

from __future__ import annotations

import re
from typing import Any

from lamella.engine.sequential import Sequential

#: Written as the root ``backend`` attribute.  Keras 1 wrote none; Keras 2 readers
#: use it only to flip convolution kernels of files that say 'theano'.
BACKEND = "pytorch"

#: Bytes of attribute data an HDF5 object header holds; longer name lists are
#: split into ``layer_names0``, ``layer_names1`` ... as Keras 2 does.
ATTRIBUTE_LIMIT = 64512

_TF_SUFFIX = re.compile(r":\d+$")


def weight_layers(model: Any) -> list[Any]:
    """The layers a file has one group each for: Keras 1's weight order (§4.3).

    A Sequential lists its flattened layers (Merge branches' layers first, no
    InputLayer); a functional model lists ``model.layers``, InputLayers included.
    """
    if isinstance(model, Sequential):
        return model.flattened_layers
    return model.layers


def weight_name(weight: Any, index: int) -> str:
    """The name a weight is saved under: ``'<layer>_<param>'``, else Theano's ``param_<i>``."""
    return getattr(weight, "_keras_name", None) or f"param_{index}"


def short_name(name: str, layer_name: str) -> str:
    """``'dense_1_W:0'`` -> ``'W'``: what identifies a weight within its layer.

    TensorFlow appends ``:0`` and every backend prefixes the layer's name, which
    differs when weights move between layers of different names.
    """
    name = _TF_SUFFIX.sub("", name)
    prefix = f"{layer_name}_"
    return name[len(prefix) :] if name.startswith(prefix) else name
