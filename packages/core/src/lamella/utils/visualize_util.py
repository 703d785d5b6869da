"""Drawings of models with Graphviz: ``plot(model, to_file='model.png')``.

Needs the optional extra ``pip install lamella-core[visualize]`` (pydot) and, to
write images, Graphviz's ``dot`` program (``apt-get install graphviz``,
``brew install graphviz``).
"""

from __future__ import annotations

import os
from typing import Any


def _pydot() -> Any:
    try:
        import pydot
    except ImportError:
        raise ImportError(
            "Drawing models needs pydot: pip install 'lamella-core[visualize]' (or pip install "
            "pydot), and Graphviz's dot program to write images"
        ) from None
    return pydot


def _label(layer: Any, show_shapes: bool, show_layer_names: bool) -> str:
    label = type(layer).__name__
    if show_layer_names:
        label = f"{layer.name}: {label}"
    if not show_shapes:
        return label

    def shape(getter: str) -> str:
        try:
            return str(getattr(layer, getter))
        except AttributeError:
            return "multiple"

    return (
        f"{label}\n|{{input:|output:}}|{{{{{shape('input_shape')}}}|{{{shape('output_shape')}}}}}"
    )


def model_to_dot(model: Any, show_shapes: bool = False, show_layer_names: bool = True) -> Any:
    """A ``pydot.Dot`` graph: one node per layer (inputs included), one edge per connection."""
    pydot = _pydot()
    dot = pydot.Dot()
    dot.set("rankdir", "TB")
    dot.set("concentrate", True)
    dot.set_node_defaults(shape="record")
    own = {id(node) for node in model._nodes}
    layers = [n.outbound_layer for n in model._nodes]
    seen: set[int] = set()
    for layer in layers:
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        label = _label(layer, show_shapes, show_layer_names)
        dot.add_node(pydot.Node(str(id(layer)), label=f'"{label}"' if "\n" in label else label))
    for layer in layers:
        for node in layer.inbound_nodes:
            if id(node) not in own:
                continue
            for tensor in node.inbound_tensors:
                dot.add_edge(pydot.Edge(str(id(tensor.layer)), str(id(layer))))
    return dot


def plot(
    model: Any, to_file: str = "model.png", show_shapes: bool = False, show_layer_names: bool = True
) -> None:
    """Write a picture of ``model``; the format comes from the file ending (png, svg, pdf)."""
    dot = model_to_dot(model, show_shapes, show_layer_names)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    try:
        dot.write(to_file, format=extension)
    except FileNotFoundError as exc:
        raise RuntimeError(
            "Writing a picture needs Graphviz's 'dot' program on the PATH (apt-get install "
            f"graphviz, or brew install graphviz): {exc}"
        ) from None
