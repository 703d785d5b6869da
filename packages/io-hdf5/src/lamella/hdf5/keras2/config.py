"""Keras 2/3 model configs in Keras 1's form, which ``model_from_config`` rebuilds.

The models' structure (Sequential's layer list, Functional's inbound nodes and input
and output references, numbered as Keras 1 numbers them) is rewritten here, and each
layer by ``layer_config``: renamed by the tables, its values by ``arguments``, the layers
that take more than renaming by ``rewrites``, and refused where lamella's Keras 1 layer
would compute something else.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import Any

from lamella.hdf5.keras2.rewrites import (
    channels_first_flatten,
    cosine_mode,
    keras1_padding,
    rewritten,
    transposed_shape,
)
from lamella.hdf5.keras2.weights import SAME_LAYOUT
from lamella.keras2.arguments import all_equal, harmless, keras1_argument, lamella_arguments
from lamella.keras2.tables import (
    CLASSES,
    DILATED,
    MERGE_MODES,
    MODELS,
    RENAMES,
    REQUIRED,
    UNSUPPORTED,
)
from lamella.plugins import available, registry

#: Arguments every lamella layer takes, through its base class's keyword arguments.
_BASE_ARGUMENTS = {"name", "trainable", "batch_input_shape", "input_dtype", "input_shape"}


def is_keras2(version: str | None) -> bool:
    """Whether a file's ``keras_version`` is Keras 2 or later (a Keras 1 file has none)."""
    return bool(version) and not str(version).startswith("1")


def model_config(config: Mapping[str, Any], version: str | None = None) -> dict[str, Any]:
    """A Keras 2/3 model config in Keras 1's form, which ``model_from_config`` rebuilds.

    ``version`` is the file's ``keras_version``: Keras 3's ``hard_sigmoid`` is not Keras 1's.
    """
    return _model(config, keras3=str(version or "").startswith("3"))


def _model(config: Mapping[str, Any], keras3: bool) -> dict[str, Any]:
    name = config["class_name"]
    body = config["config"]
    if name == "Sequential":
        layers = body["layers"] if isinstance(body, Mapping) else body
        model_name = body.get("name") if isinstance(body, Mapping) else None
        return {
            "class_name": "Sequential",
            "config": {"name": model_name, "layers": _sequential_layers(layers, keras3)},
        }
    if name in ("Functional", "Model"):
        return {"class_name": "Model", "config": _functional(body, keras3)}
    return layer_config(config, keras3)


def _sequential_layers(layers: list[Mapping[str, Any]], keras3: bool) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for entry in layers:
        shape = _sequential_shape(converted, entry) if _needs_shape(entry) else None
        converted.append(layer_config(entry, keras3, shape))
    return _without_input_layer(converted)


def _without_input_layer(converted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keras 3 lists the InputLayer; Keras 1 puts its shape on the first layer instead."""
    if len(converted) > 1 and converted[0]["class_name"] == "InputLayer":
        first, second = converted[0]["config"], copy.deepcopy(converted[1])
        for key in ("batch_input_shape", "input_dtype"):
            if first.get(key) is not None:
                second["config"][key] = first[key]
        return [second, *converted[2:]]
    return list(converted)


def _functional(body: Mapping[str, Any], keras3: bool) -> dict[str, Any]:
    """A functional model's config, with the calls of a model nested in it numbered from 1
    as Keras 1 and 2 number them (a Keras model has a node 0 of its own, from its inputs
    to its outputs).  Keras 3 numbers them from 0 in the layers' inbound nodes, and in
    ``input_layers`` and ``output_layers`` from 1 for a Functional but from 0 for a
    Sequential; those are renumbered here."""
    kinds = {entry["name"]: entry["class_name"] for entry in body["layers"]} if keras3 else {}
    within = {name for name, kind in kinds.items() if kind in MODELS}
    sequential = {name for name, kind in kinds.items() if kind == "Sequential"}
    layers = []
    for entry in body["layers"]:
        shape = _functional_shape(body, layers, entry, within) if _needs_shape(entry) else None
        converted = layer_config(entry, keras3, shape)
        converted["name"] = entry["name"]
        nodes = entry.get("inbound_nodes", [])
        converted["inbound_nodes"] = [_node(node, within) for node in nodes]
        layers.append(converted)
    return {
        "name": body.get("name"),
        "layers": layers,
        "input_layers": _references(body["input_layers"], sequential),
        "output_layers": _references(body["output_layers"], sequential),
    }


def _references(refs: list[Any], nested: frozenset | set = frozenset()) -> list[list[Any]]:
    """Keras 3 writes a single input or output as one flat ``[name, node, tensor]``;
    the calls of the ``nested`` models are renumbered from 1."""
    refs = [refs] if refs and isinstance(refs[0], str) else refs
    return [_reference(ref, nested) for ref in refs]


def _reference(ref: list[Any], nested: frozenset | set) -> list[Any]:
    name, node, tensor = ref[:3]
    return [name, node + 1 if name in nested else node, tensor]


def _tensors(node: Any) -> list[Mapping[str, Any]]:
    """The ``__keras_tensor__`` configs of a Keras 3 inbound node ``{"args": [...]}``, nested
    in lists for layers taking several inputs, in order."""
    found: list[Mapping[str, Any]] = []
    pending = [node.get("args", [])]
    while pending:
        item = pending.pop(0)
        if isinstance(item, Mapping) and item.get("class_name") == "__keras_tensor__":
            found.append(item["config"])
        elif isinstance(item, list):
            pending[:0] = item
    return found


def _node(node: Any, nested: frozenset | set = frozenset()) -> list[list[Any]]:
    """One inbound node as Keras 1's ``[[layer, node_index, tensor_index], ...]``.

    Keras 2 writes ``[[name, node, tensor, kwargs], ...]``; Keras 3 ``{"args": [...]}``
    with ``__keras_tensor__`` entries, nested in lists for layers taking several inputs.
    """
    if isinstance(node, list):
        return [_reference(ref, nested) for ref in node]
    return [_reference(tensor["keras_history"], nested) for tensor in _tensors(node)]


# --- input shapes, for the conversions that depend on them -----------------------------


def _needs_shape(entry: Mapping[str, Any]) -> bool:
    """Whether converting ``entry`` needs its input shape (and the file does not give it)."""
    keras2_class, config = entry.get("class_name"), entry.get("config") or {}
    if keras2_class in ("TimeDistributed", "Bidirectional"):
        inner = config.get("layer")
        return (
            isinstance(inner, Mapping)
            and _needs_shape(inner)
            and not (inner.get("build_config") or {}).get("input_shape")
        )
    return (
        keras2_class == "Conv2DTranspose"
        or (keras2_class == "Flatten" and config.get("data_format") == "channels_first")
        or (keras2_class == "Dot" and bool(config.get("normalize")))
    )


def _sequential_shape(converted: list[dict[str, Any]], entry: Mapping[str, Any]) -> Any:
    """The input shape of the Sequential layer ``entry``, which follows ``converted``."""
    config = entry.get("config") or {}
    own = config.get("batch_input_shape") or config.get("batch_shape")
    if own is not None:
        return tuple(own)
    layers = _without_input_layer(converted)
    if len(layers) == 1 and layers[0]["class_name"] == "InputLayer":
        return tuple(layers[0]["config"]["batch_input_shape"])
    config = {"name": "input_shape_of", "layers": layers}
    model = _built(entry, {"class_name": "Sequential", "config": config})
    return model.output_shape


def _functional_shape(
    body: Mapping[str, Any],
    converted: list[dict[str, Any]],
    entry: Mapping[str, Any],
    nested: frozenset | set,
) -> Any:
    """The input shape (a list for several inputs) of the functional model's layer
    ``entry``: Keras 3 writes it in the inbound node; for Keras 2 the layers before it are
    built."""
    nodes = entry.get("inbound_nodes") or []
    if not nodes:
        return _sequential_shape([], entry)
    tensors = _tensors(nodes[0]) if isinstance(nodes[0], Mapping) else []
    if tensors and all("shape" in tensor for tensor in tensors):
        shapes = [tuple(tensor["shape"]) for tensor in tensors]
    else:
        known = {layer["name"] for layer in converted}
        refs = _references(body["input_layers"])
        inputs = [ref for ref in refs if ref[0] in known]
        outputs = _node(nodes[0], nested)
        config = {"name": "input_shape_of", "layers": converted, "input_layers": inputs,
                  "output_layers": outputs}  # fmt: skip
        shapes = _built(entry, {"class_name": "Model", "config": config}).internal_output_shapes
    return shapes[0] if len(shapes) == 1 else shapes


def _built(entry: Mapping[str, Any], config: dict[str, Any]) -> Any:
    """The lamella model of the (converted) layers before ``entry``, for its input shape."""
    from lamella.engine.serialization import layer_from_config

    try:
        return layer_from_config(copy.deepcopy(config))
    except (KeyError, TypeError, ValueError) as exc:
        layer = (entry.get("config") or {}).get("name", entry.get("name"))
        raise ValueError(
            f"{entry.get('class_name')} layer {layer!r}: its conversion needs its input "
            f"shape, and the layers before it could not be built to find it: {exc}"
        ) from exc


# --- one layer ---------------------------------------------------------------------------


def layer_config(
    entry: Mapping[str, Any], keras3: bool = False, input_shape: Any = None
) -> dict[str, Any]:
    """One layer's ``{"class_name", "config"}`` with Keras 1's class and argument names.

    ``input_shape`` (batch axis included; a list for several inputs) is needed only
    where ``_needs_shape`` says so.
    """
    keras2_class = entry["class_name"]
    if keras2_class in MODELS:
        return _model(entry, keras3)
    config = dict(entry["config"])
    layer = config.get("name", keras2_class)
    if keras2_class in UNSUPPORTED:
        raise ValueError(f"{keras2_class} layer {layer!r}: {UNSUPPORTED[keras2_class]}")
    keras2_class, config = rewritten(keras2_class, layer, config)
    lamella_class, renames = CLASSES.get(keras2_class, (keras2_class, {}))
    if keras2_class in DILATED and not all_equal(config.get("dilation_rate", 1), 1):
        lamella_class = DILATED[keras2_class]
    _refuse(keras2_class, lamella_class, layer, config, keras3)
    if keras2_class == "Flatten" and config.get("data_format") == "channels_first":
        return channels_first_flatten(layer, config, input_shape)
    if keras2_class != "InputLayer":
        config.pop("dtype", None)  # Keras 3's dtype policy; only an InputLayer's is data
    converted: dict[str, Any] = {}
    if keras2_class == "Conv2DTranspose":
        converted["output_shape"] = transposed_shape(layer, config, input_shape)
    if keras2_class in ("ZeroPadding2D", "ZeroPadding3D") and "padding" in config:
        config["padding"] = keras1_padding(keras2_class, layer, config["padding"])
    original: dict[str, str] = {}
    for key, value in config.items():
        new_key = renames.get(key, RENAMES.get(key, key))
        converted.update(keras1_argument(new_key, value))
        original[new_key] = key
    if keras2_class in ("LSTM", "GRU", "SimpleRNN") and "implementation" in config:
        converted["consume_less"] = "gpu" if config["implementation"] == 2 else "cpu"
    if config.get("unit_forget_bias") is False:
        converted["forget_bias_init"] = "zero"
    if keras2_class in MERGE_MODES:
        converted["mode"] = MERGE_MODES[keras2_class]
    if keras2_class == "Dot" and converted.pop("normalize", False):
        converted["mode"] = cosine_mode(layer, input_shape)
    if isinstance(config.get("layer"), Mapping):
        inner = config["layer"]
        shape = (inner.get("build_config") or {}).get("input_shape")
        if shape is None and input_shape is not None:
            wrapped = keras2_class == "TimeDistributed"
            shape = (input_shape[0], *input_shape[2:]) if wrapped else input_shape
        converted["layer"] = layer_config(inner, keras3, shape)
    converted.pop("backward_layer", None)
    accepted = lamella_arguments(lamella_class)
    kept = {}
    for key, value in converted.items():
        if key in accepted or key in _BASE_ARGUMENTS:
            kept[key] = value
        elif not harmless(key, value) and not harmless(original.get(key, key), value):
            warnings.warn(
                f"Keras {keras2_class} layer {layer!r}: argument "
                f"{original.get(key, key)!r}={config.get(original.get(key, key), value)!r} "
                "has no lamella equivalent and was dropped",
                stacklevel=4,
            )
    return {"class_name": lamella_class, "config": kept}


def _refuse(
    keras2_class: str, lamella_class: str, layer: str, config: Mapping[str, Any], keras3: bool
) -> None:
    """Layers whose Keras 2/3 form computes something lamella's Keras 1 layer cannot."""
    what = f"{keras2_class} layer {layer!r}"
    if keras2_class == "BatchNormalization" and not (
        config.get("center", True) and config.get("scale", True)
    ):
        raise ValueError(
            f"{what} has center=False or scale=False, which Keras 1's BatchNormalization "
            "does not offer"
        )
    renames = CLASSES.get(keras2_class, (keras2_class, {}))[1]
    accepted = lamella_arguments(lamella_class)
    for key, required in REQUIRED.items():
        value = config.get(key, required)
        taken = renames.get(key, RENAMES.get(key, key)) in accepted
        if not taken and not all_equal(value, required):
            raise ValueError(
                f"{what} has {key}={value!r}, which Keras 1's {lamella_class} cannot compute "
                f"(only {key}={required!r})"
            )
    if renames.get("data_format") == "data_format" and config.get("data_format") not in (
        None,
        "channels_last",
    ):
        raise ValueError(
            f"{what} has data_format={config['data_format']!r}: Keras 1's {lamella_class} "
            "takes (batch, steps, features) only"
        )
    if config.get("padding") == "causal":
        raise ValueError(f"{what} has padding='causal', which Keras 1 does not offer")
    if keras2_class in SAME_LAYOUT and config.get("implementation", 1) != 1:
        raise ValueError(
            f"{what} has implementation={config['implementation']!r}: only implementation=1 "
            "keeps Keras 1's kernel layout"
        )
    for key in ("activation", "recurrent_activation"):
        value = config.get(key)
        if keras3 and value == "hard_sigmoid":
            raise ValueError(
                f"{what} has {key}='hard_sigmoid': Keras 3's is clip(x / 6 + 0.5, 0, 1), "
                "Keras 1's (and lamella's) clip(0.2 * x + 0.5, 0, 1)"
            )
        if isinstance(value, str) and not available(value, "activations"):
            raise ValueError(
                f"{what} has {key}={value!r}, an activation lamella does not have "
                f"(it has {', '.join(sorted(registry('activations').names()))})"
            )
    backward = config.get("backward_layer")
    if isinstance(backward, Mapping) and isinstance(config.get("layer"), Mapping):
        ignored = ("name", "go_backwards")
        forward = {k: v for k, v in config["layer"]["config"].items() if k not in ignored}
        if forward != {k: v for k, v in backward["config"].items() if k not in ignored}:
            raise ValueError(
                f"{what} has a backward_layer that differs from its forward layer: Keras "
                "1's Bidirectional runs a copy of the forward layer backwards"
            )
