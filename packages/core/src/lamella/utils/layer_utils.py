"""Layer helpers of Keras 1: summaries, parameter counts, configs and kernel conversion."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from lamella.engine.container import Container
from lamella.engine.sequential import Sequential
from lamella.engine.serialization import layer_from_config
from lamella.engine.training import Model
from lamella.utils.generic_utils import get_custom_objects, get_from_module
from lamella.utils.np_utils import convert_kernel

__all__ = [
    "Model",
    "Sequential",
    "convert_all_kernels_in_model",
    "convert_kernel",
    "convert_layer_kernels",
    "count_total_params",
    "get_custom_objects",
    "get_from_module",
    "layer_from_config",
    "print_summary",
]


def _row(fields: Sequence[Any], stops: Sequence[int]) -> str:
    line = ""
    for field, stop in zip(fields, stops, strict=True):
        line = (line + str(field))[:stop]
        line += " " * (stop - len(line))
    return line


def _connections(layer: Any, nodes: set[int]) -> list[str]:
    found = []
    for node in layer.inbound_nodes:
        if id(node) not in nodes:
            continue
        for tensor in node.inbound_tensors:
            found.append(f"{tensor.layer.name}[{tensor.node_index}][{tensor.tensor_index}]")
    return found


def _output_shape(layer: Any) -> Any:
    try:
        return layer.output_shape
    except AttributeError:
        return "multiple"


def print_summary(
    layers: Any,
    relevant_nodes: Collection[Any] | None = None,
    line_length: int = 100,
    positions: Sequence[float] | None = None,
) -> None:
    """Print each layer's name, type, output shape, parameter count and inputs.

    ``layers`` is a model, or (as Keras 1 called it) a list of layers; then
    ``relevant_nodes`` may name the calls to show, as nodes or as Keras's
    ``'<layer>_ib-<index>'`` keys.  ``positions`` are the column ends, as
    fractions of ``line_length`` or, when the last is above 1, in characters.
    """
    ends = list(positions or (0.33, 0.55, 0.67, 1.0))
    stops = [int(line_length * p) for p in ends] if ends[-1] <= 1 else [int(p) for p in ends]
    if isinstance(layers, Container):
        model = layers
        layers = getattr(model, "flattened_layers", None) or model.layers
        nodes = {id(node) for node in model._nodes}
        trainable = sum(int(w.numel()) for w in model.trainable_weights)
        non_trainable = sum(int(w.numel()) for w in model.weights) - trainable
    else:
        layers = list(layers)
        nodes = {
            id(node)
            for layer in layers
            for index, node in enumerate(layer.inbound_nodes)
            if relevant_nodes is None
            or f"{layer.name}_ib-{index}" in relevant_nodes
            or any(node is n for n in relevant_nodes)
        }
        trainable, non_trainable = count_total_params(layers)
    print("_" * line_length)
    print(_row(["Layer (type)", "Output Shape", "Param #", "Connected to"], stops))
    print("=" * line_length)
    for index, layer in enumerate(layers):
        links = _connections(layer, nodes) or [""]
        title = f"{layer.name} ({type(layer).__name__})"
        print(_row([title, _output_shape(layer), layer.count_params(), links[0]], stops))
        for link in links[1:]:
            print(_row(["", "", "", link], stops))
        print(("=" if index == len(layers) - 1 else "_") * line_length)
    print(f"Total params: {trainable + non_trainable:,}")
    print(f"Trainable params: {trainable:,}")
    print(f"Non-trainable params: {non_trainable:,}")
    print("_" * line_length)


def count_total_params(layers: Iterable[Any], layer_set: set[Any] | None = None) -> tuple[int, int]:
    """``(trainable, non_trainable)`` parameter counts of ``layers``, each layer counted once.

    A model in the list is counted through its own layers; ``layer_set`` holds the
    layers already counted (and receives these ones), so shared layers count once.
    """
    seen = set() if layer_set is None else layer_set
    trainable = non_trainable = 0
    for layer in layers:
        if layer in seen:
            continue
        seen.add(layer)
        if isinstance(layer, Container):
            inner = count_total_params(layer.layers, seen)
            trainable += inner[0]
            non_trainable += inner[1]
        else:
            trainable += sum(int(w.numel()) for w in layer.trainable_weights)
            non_trainable += sum(int(w.numel()) for w in layer.non_trainable_weights)
    return trainable, non_trainable


#: The layers Theano convolved (flipping the kernel) where TensorFlow and torch correlate, by
#: class name, and the ordering their kernels follow: a layer's own ``dim_ordering``, or
#: ``'tf'`` for the 1D layers, whose kernels are ``(filter_length, 1, input_dim, nb_filter)``
#: whatever the image ordering.  A subclass follows its nearest listed base.  Keras 1.2.2
#: lists Convolution1D/2D/3D, AtrousConvolution2D and Deconvolution2D, and converts each by
#: the global image_dim_ordering; AtrousConvolution1D (a Convolution1D) and ConvLSTM2D (whose
#: eight ``W_*``/``U_*`` kernels Theano convolved too) are added.  None marks layers that
#: are not converted: SeparableConvolution2D (Theano had no separable convolution) and the
#: LocallyConnected layers (no convolution; their kernels have no spatial axes to flip).
_KERNEL_ORDERINGS: dict[str, str | None] = {
    "Convolution1D": "tf",
    "AtrousConvolution1D": "tf",
    "Convolution2D": "layer",
    "AtrousConvolution2D": "layer",
    "Deconvolution2D": "layer",
    "Convolution3D": "layer",
    "ConvLSTM2D": "layer",
    "SeparableConvolution2D": None,
    "LocallyConnected1D": None,
    "LocallyConnected2D": None,
}


def _kernel_ordering(layer: Any) -> str | None:
    """The ordering :func:`convert_kernel` reads ``layer``'s kernels by, or None when the
    layer is not one Theano convolved."""
    for cls in type(layer).__mro__:
        if cls.__name__ in _KERNEL_ORDERINGS:
            ordering = _KERNEL_ORDERINGS[cls.__name__]
            return getattr(layer, "dim_ordering", None) if ordering == "layer" else ordering
    return None


def convert_layer_kernels(layer: Any, weights: Sequence[Any]) -> list[Any]:
    """``weights`` (arrays in the order of ``layer.weights``) with each convolution kernel
    flipped by :func:`convert_kernel` when ``layer`` is a convolution Theano computed (or a
    TimeDistributed one), else unchanged: how a file's Theano-trained arrays are loaded.

    The kernels are the weights of 4 or 5 dimensions (the biases have one).
    """
    ordering = _kernel_ordering(layer)
    inner = getattr(layer, "layer", None)  # TimeDistributed: its layer's weights are its own
    if ordering is None and inner is not None and len(inner.weights) == len(weights):
        return convert_layer_kernels(inner, weights)
    if ordering is None:
        return list(weights)
    return [convert_kernel(w, ordering) if np.ndim(w) in (4, 5) else w for w in weights]


def convert_all_kernels_in_model(model: Any) -> None:
    """Flip the spatial axes of every convolution kernel in ``model``, in place.

    Converts weights trained with Theano's convolution (which flips kernels) for the
    correlation of TensorFlow and torch, and back; applying it twice restores the
    weights.  Each layer is converted by its own ``dim_ordering``, and the layers of
    nested models and wrappers (``TimeDistributed(Convolution2D(...))``) are converted
    too, each once.  Keras 1.2.2 converted ``model.layers`` only, by the global
    image_dim_ordering.
    """
    pending, seen = [model], set()
    while pending:
        layer = pending.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        pending.extend(layer._sublayers())
        if _kernel_ordering(layer) is not None:
            layer.set_weights(convert_layer_kernels(layer, layer.get_weights()))
