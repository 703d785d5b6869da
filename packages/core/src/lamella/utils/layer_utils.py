"""Layer helpers of Keras 1: summaries, parameter counts, configs and kernel conversion."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

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


#: The layers whose kernels :func:`convert_all_kernels_in_model` flips (Keras 1's list, plus
#: AtrousConvolution1D, which Keras 1 left out though its kernel is a Convolution1D's).
_CONVOLUTIONS = frozenset(
    {
        "Convolution1D",
        "AtrousConvolution1D",
        "Convolution2D",
        "Convolution3D",
        "AtrousConvolution2D",
        "Deconvolution2D",
    }
)
#: 1D kernels are ``(filter_length, 1, input_dim, nb_filter)`` whatever the image ordering.
_TF_LAYOUT = frozenset({"Convolution1D", "AtrousConvolution1D"})


def convert_all_kernels_in_model(model: Any) -> None:
    """Flip the spatial axes of every convolution kernel in ``model``, in place.

    Converts weights trained with Theano's convolution (which flips kernels) for
    TensorFlow's correlation and back; applying it twice restores the weights.
    """
    for layer in model.layers:
        name = type(layer).__name__
        if name in _CONVOLUTIONS:
            ordering = "tf" if name in _TF_LAYOUT else getattr(layer, "dim_ordering", None)
            weights = layer.get_weights()
            weights[0] = convert_kernel(weights[0], ordering)
            layer.set_weights(weights)
