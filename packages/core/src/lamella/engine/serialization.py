"""Layers as Keras's ``{"class_name": ..., "config": {...}}`` and back, via the registry.

Classes are found only through the registry (or ``custom_objects``): nothing a
config names is ever imported, so loading a file cannot run code it brings.  A
config of a few bytes may still declare a huge model, or (in YAML, through aliases)
expand to billions of values: ``model_from_*`` count the weights a config declares on
torch's meta device before building it, and YAML's expansion is bounded.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import numbers
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import yaml

from lamella.backend.state import uids_kept
from lamella.engine.container import Container
from lamella.plugins import registry
from lamella.utils.generic_utils import loading_custom_objects
from lamella.utils.messages import quoted

#: The Keras version whose file formats lamella writes.
KERAS_VERSION = "1.2.2"

#: The most weight values (parameters and buffers) ``model_from_config``, ``_json`` and
#: ``_yaml`` build unless the caller passes another ``max_params``: 2**28, 1 GiB of float32,
#: twice VGG16.
MAX_PARAMS = 1 << 28

#: The most values a YAML text may expand to through its aliases, per byte of text (and
#: a floor): a config without aliases holds fewer values than bytes.
YAML_VALUES_PER_BYTE = 10
YAML_VALUES_FLOOR = 100_000

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
    """The name a layer is saved under: the Keras 1 class it stands for (Keras 2's ``Add``
    is a ``Merge``), else its registered name, else its class name."""
    saved_as = getattr(type(layer), "saved_as", None)
    return saved_as or registry("layers").name_of(type(layer)) or type(layer).__name__


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
    if not isinstance(config, Mapping):
        raise ValueError(
            "A layer config must be a mapping with the keys 'class_name' and 'config', got "
            f"a {type(config).__name__}: {quoted(config)}"
        )
    if "class_name" not in config or "config" not in config:
        raise ValueError(
            "A layer config must have the keys 'class_name' and 'config', got "
            f"{quoted(sorted(config, key=str))}"
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
                f"Cannot rebuild model {quoted(config.get('name'))}: the inputs of "
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


def declared_weights(
    config: Mapping[str, Any],
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
) -> int | None:
    """How many weight values (parameters and buffers) the model of ``config`` holds.

    The model is built on torch's meta device, where tensors have shapes and no memory,
    and automatic layer names are left as they were.  None when some layer cannot be
    built there (its ``build`` reads values); then only building it for real can tell.
    """
    with loading(safe_mode), uids_kept(), torch.device("meta"):
        try:
            model = layer_from_config(config, custom_objects)
        except (RuntimeError, NotImplementedError):
            return None
    return sum(t.numel() for t in itertools.chain(model.parameters(), model.buffers()))


def model_from_config(
    config: Mapping[str, Any],
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
    max_params: int | None = MAX_PARAMS,
) -> Any:
    """A model from Keras's ``{"class_name", "config"}`` (a Sequential's config is a list).

    ``safe_mode=False`` lets Lambda layers run the Python code stored in the
    config: pass it only for configs you trust.  A config declaring more than
    ``max_params`` weight values is refused before any is allocated; raise it for a
    bigger model, or pass None to build without counting.
    """
    _check_size(config, custom_objects, safe_mode, max_params, "model_from_config")
    with loading(safe_mode):
        return layer_from_config(config, custom_objects)


def _check_size(
    config: Mapping[str, Any],
    custom_objects: Mapping[str, Any] | None,
    safe_mode: bool,
    max_params: int | None,
    caller: str,
) -> None:
    if max_params is None:
        return
    if (
        not isinstance(max_params, numbers.Integral)
        or isinstance(max_params, bool)
        or max_params < 1
    ):
        raise TypeError(f"{caller}: max_params must be a positive int or None, got {max_params!r}")
    declared = declared_weights(config, custom_objects, safe_mode)
    if declared is not None and declared > max_params:
        raise ValueError(
            f"{caller}: the config declares {declared:,} weight values, more than the limit "
            f"of {max_params:,}; nothing was allocated. For a model you expect to be this "
            f"big, pass max_params={declared} (or None for no limit)"
        )


def model_from_json(
    json_string: str,
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
    max_params: int | None = MAX_PARAMS,
) -> Any:
    """A model from ``model.to_json()``; ``max_params`` as in :func:`model_from_config`."""
    config = _parsed(json.loads, json_string, "JSON")
    _check_size(config, custom_objects, safe_mode, max_params, "model_from_json")
    return model_from_config(config, custom_objects, safe_mode, max_params=None)


def model_from_yaml(
    yaml_string: str,
    custom_objects: Mapping[str, Any] | None = None,
    safe_mode: bool = True,
    max_params: int | None = MAX_PARAMS,
) -> Any:
    """YAML is read with ``yaml.safe_load``: no Python object is ever built from the text,
    and a text whose aliases expand it beyond ``YAML_VALUES_PER_BYTE`` values per byte is
    refused.  ``max_params`` as in :func:`model_from_config`."""
    config = _parsed(yaml.safe_load, yaml_string, "YAML")
    _check_expansion(config, len(yaml_string))
    _check_size(config, custom_objects, safe_mode, max_params, "model_from_yaml")
    return model_from_config(config, custom_objects, safe_mode, max_params=None)


def _check_expansion(document: Any, length: int) -> None:
    """Refuse a YAML "billion laughs": aliases let a few hundred bytes stand for 10^9
    values, which every later walk of the config (or a message quoting it) would expand."""
    limit = YAML_VALUES_FLOOR + YAML_VALUES_PER_BYTE * length
    pending, seen = [document], 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > limit:
            raise ValueError(
                f"model_from_yaml: the YAML expands, through its aliases, to more than "
                f"{limit:,} values from {length:,} characters; it is not a model config"
            )
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _parsed(parse: Callable[[str], Any], text: str, language: str) -> Any:
    """``parse(text)``; nesting past Python's recursion limit is a clear error, not a bare
    RecursionError (no model config nests that deep)."""
    try:
        return parse(text)
    except RecursionError:
        raise ValueError(
            f"model_from_{language.lower()}: the {language} nests deeper than Python's "
            f"recursion limit ({sys.getrecursionlimit()}); it is not a model config"
        ) from None
