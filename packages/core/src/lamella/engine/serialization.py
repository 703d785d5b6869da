"""Layers as Keras's ``{"class_name": ..., "config": {...}}`` and back, via the registry.

Classes are found only through the registry (or ``custom_objects``): nothing a
config names is ever imported, so loading a file cannot run code it brings.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from lamella.engine.container import Container
from lamella.plugins import registry
from lamella.utils.generic_utils import loading_custom_objects

#: The Keras version whose file formats lamella writes.
KERAS_VERSION = "1.2.2"

_safe_mode: contextvars.ContextVar[bool] = contextvars.ContextVar("safe_mode", default=True)


def safe_mode() -> bool:
    """Whether code stored in a config (a Lambda's function) must be refused; True by default.

    Only a caller's ``safe_mode=False`` argument changes it, for the duration of
    that one load: nothing read from a file can.
    """
    return _safe_mode.get()


@contextlib.contextmanager
def loading(safe: bool) -> Iterator[None]:
    """Rebuild layers with ``safe_mode`` set to ``safe`` (the caller's choice)."""
    token = _safe_mode.set(bool(safe))
    try:
        yield
    finally:
        _safe_mode.reset(token)


def class_name(layer: Any) -> str:
    """The name a layer is saved under: its registered name, else its class name."""
    return registry("layers").name_of(type(layer)) or type(layer).__name__


def layer_to_config(layer: Any) -> dict[str, Any]:
    return {"class_name": class_name(layer), "config": layer.get_config()}


def layer_from_config(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
) -> Any:
    """A layer (or model) rebuilt from ``{"class_name", "config"}``.

    Names are looked up in ``custom_objects``, then in the custom objects of
    ``lamella.utils.generic_utils`` (``custom_object_scope``), then in the registry;
    ``custom_objects`` stay visible to every lookup the rebuild makes.
    """
    if "class_name" not in config or "config" not in config:
        raise ValueError(
            f"A layer config must have the keys 'class_name' and 'config', got {sorted(config)}"
        )
    name = config["class_name"]
    with loading_custom_objects(custom_objects) as objects:
        cls = objects[name] if name in objects else registry("layers").get(name)
        from_config = cls.from_config
        if "custom_objects" in from_config.__code__.co_varnames:
            return from_config(config["config"], custom_objects=objects)
        return from_config(config["config"])


def _first_call(layer: Any) -> int:
    """The index Keras gives a layer's first call in a model's config.

    In Keras a model (a Container) gets a node of its own when it is built, linking its
    inputs to its outputs, so the calls of a model nested in another one count from 1
    in the outer model's config. lamella's containers have no such node: their calls
    count from 0 in memory and are shifted by this much in configs, both ways.
    """
    return 1 if isinstance(layer, Container) else 0


def _node_positions(model: Any) -> dict[int, int]:
    """Each node of ``model`` numbered as Keras numbers it in ``model``'s config."""
    own = {id(node) for node in model._nodes}
    positions: dict[int, int] = {}
    for layer in model._layers:
        count = _first_call(layer)
        for node in layer.inbound_nodes:
            if id(node) in own or not node.inbound_tensors:
                positions[id(node)] = count
                count += 1
    return positions


def container_config(model: Any) -> dict[str, Any]:
    """A functional model as Keras's config: layers with their inbound nodes, inputs, outputs."""
    positions = _node_positions(model)
    own = {id(node) for node in model._nodes}

    def reference(tensor: Any) -> list[Any]:
        node = tensor.layer.inbound_nodes[tensor.node_index]
        return [tensor.layer.name, positions.get(id(node), 0), tensor.tensor_index]

    layers = []
    for layer in model._layers:
        inbound = [
            [reference(t) for t in node.inbound_tensors]
            for node in layer.inbound_nodes
            if id(node) in own and node.inbound_tensors
        ]
        layers.append(
            {
                "name": layer.name,
                "class_name": class_name(layer),
                "config": layer.get_config(),
                "inbound_nodes": inbound,
            }
        )
    return {
        "name": model.name,
        "layers": layers,
        "input_layers": [reference(t) for t in model.inputs],
        "output_layers": [reference(t) for t in model.outputs],
    }


def container_from_config(
    cls: type, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
) -> Any:
    """Rebuild a functional model: make every layer, then replay its calls in order."""
    from lamella.engine.topology import to_list

    created = {
        entry["name"]: layer_from_config(entry, custom_objects) for entry in config["layers"]
    }
    shifts = _call_shifts(config, created)

    def local(ref: list[Any]) -> list[Any]:
        """``[layer, node, tensor]`` with the node index counted as lamella counts it."""
        name, node_index, tensor_index = ref[:3]
        return [name, node_index - shifts.get(name, 0), tensor_index]

    pending = [
        (created[entry["name"]], [local(ref) for ref in node])
        for entry in config["layers"]
        for node in entry.get("inbound_nodes", [])
    ]

    def tensor(ref: list[Any]) -> Any:
        name, node_index, tensor_index = ref
        return to_list(created[name].get_output_at(node_index))[tensor_index]

    while pending:
        progress = []
        for item in pending:
            layer, node = item
            if all(len(created[ref[0]].inbound_nodes) > ref[1] for ref in node):
                inputs = [tensor(ref) for ref in node]
                layer(inputs[0] if len(inputs) == 1 else inputs)
                progress.append(item)
        if not progress:
            names = sorted({layer.name for layer, _ in pending})
            raise ValueError(
                f"Cannot rebuild model {config.get('name')!r}: the inputs of "
                f"layers {names} never appear in the config"
            )
        pending = [item for item in pending if all(item is not done for done in progress)]
    inputs = [tensor(local(ref)) for ref in config["input_layers"]]
    outputs = [tensor(local(ref)) for ref in config["output_layers"]]
    return cls(input=inputs, output=outputs, name=config.get("name"))


def _call_shifts(config: Mapping[str, Any], created: Mapping[str, Any]) -> dict[str, int]:
    """How much to take off each layer's node indexes in ``config`` (see :func:`_first_call`).

    Node 0 of a nested model is never a call in Keras's numbering; a config that
    references it was written by a lamella that counted every layer's calls from 0,
    and its indexes are read as they are.
    """
    refs = [
        ref for entry in config["layers"] for node in entry.get("inbound_nodes", []) for ref in node
    ]
    refs += [*config["input_layers"], *config["output_layers"]]
    counted_from_zero = {ref[0] for ref in refs if ref[1] == 0}
    return {
        name: _first_call(layer) for name, layer in created.items() if name not in counted_from_zero
    }


def model_to_dict(model: Any) -> dict[str, Any]:
    return {
        "class_name": class_name(model),
        "config": model.get_config(),
        "keras_version": KERAS_VERSION,
        "backend": "pytorch",
    }


def model_from_config(
    config: Mapping[str, Any],
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
) -> Any:
    """A model from Keras's ``{"class_name", "config"}`` (a Sequential's config is a list).

    ``safe_mode=False`` lets Lambda layers run the Python code stored in the
    config: pass it only for configs you trust.
    """
    with loading(safe_mode):
        return layer_from_config(config, custom_objects)


def model_from_json(
    json_string: str, custom_objects: Mapping[str, Any] | None = None, safe_mode: bool = True
) -> Any:
    return model_from_config(json.loads(json_string), custom_objects, safe_mode)


def model_from_yaml(
    yaml_string: str, custom_objects: Mapping[str, Any] | None = None, safe_mode: bool = True
) -> Any:
    """YAML is read with ``yaml.safe_load``: no Python object is ever built from the text."""
    return model_from_config(yaml.safe_load(yaml_string), custom_objects, safe_mode)
