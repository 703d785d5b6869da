"""Layer helpers of Keras 1: ``print_summary`` and ``layer_from_config``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamella.engine.serialization import layer_from_config

__all__ = ["layer_from_config", "print_summary"]


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
        for tensor in node.input_tensors:
            found.append(f"{tensor.layer.name}[{tensor.node_index}][{tensor.tensor_index}]")
    return found


def _output_shape(layer: Any) -> Any:
    try:
        return layer.output_shape
    except AttributeError:
        return "multiple"


def print_summary(
    model: Any, line_length: int = 100, positions: Sequence[float] | None = None
) -> None:
    """Print each layer's name, type, output shape, parameter count and inputs."""
    stops = [int(line_length * p) for p in (positions or (0.33, 0.55, 0.67, 1.0))]
    layers = getattr(model, "flattened_layers", None) or model.layers
    nodes = {id(node) for node in model._nodes}
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
    trainable = sum(int(w.numel()) for w in model.trainable_weights)
    total = sum(int(w.numel()) for w in model.weights)
    print(f"Total params: {total:,}")
    print(f"Trainable params: {trainable:,}")
    print(f"Non-trainable params: {total - trainable:,}")
    print("_" * line_length)
