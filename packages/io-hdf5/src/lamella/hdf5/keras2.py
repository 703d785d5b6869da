"""Keras 2 and Keras 3 (legacy ``.h5``) files into lamella's Keras 1 layers (keras1-api.md §4.6).

Declarative tables do most of the config side: class aliases, argument renames, the
arguments dropped quietly and those whose other values lamella cannot compute.  Code is
left for what depends on shapes: Conv2DTranspose's ``output_shape``, Keras 2/3's
channels-first Flatten and ``Dot(normalize=True)``.  Weights are converted by the target
lamella layer's own weight names, so ``load_model`` and ``load_weights`` of a
weights-only file share one path.
"""

from __future__ import annotations

import copy
import inspect
import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from lamella.engine.container import Container
from lamella.hdf5.layout import short_name, weight_layers, weight_name
from lamella.plugins import available, registry

#: Keras 1's 1D layers have no dim_ordering: Keras 2/3's data_format is dropped when
#: 'channels_last' and refused otherwise (see ``_refuse``).
_1D = {"data_format": "data_format"}

#: Keras 2/3 class -> the lamella (Keras 1) class and extra per-class argument renames.
CLASSES: dict[str, tuple[str, dict[str, str]]] = {
    "Functional": ("Model", {}),
    "Conv1D": ("Convolution1D", {"strides": "subsample_length", **_1D}),
    "Conv2D": ("Convolution2D", {"strides": "subsample"}),
    "Conv3D": ("Convolution3D", {"strides": "subsample"}),
    "Conv2DTranspose": ("Deconvolution2D", {"strides": "subsample"}),
    "SeparableConv2D": (
        "SeparableConvolution2D",
        {"strides": "subsample", "depthwise_initializer": "init"},
    ),
    "LocallyConnected1D": ("LocallyConnected1D", {"strides": "subsample_length", **_1D}),
    "LocallyConnected2D": ("LocallyConnected2D", {"strides": "subsample"}),
    "MaxPooling1D": ("MaxPooling1D", {"pool_size": "pool_length", "strides": "stride", **_1D}),
    "AveragePooling1D": (
        "AveragePooling1D",
        {"pool_size": "pool_length", "strides": "stride", **_1D},
    ),
    "UpSampling1D": ("UpSampling1D", {"size": "length", **_1D}),
    "ZeroPadding1D": ("ZeroPadding1D", {"padding": "padding", **_1D}),
    "ZeroPadding2D": ("ZeroPadding2D", {"padding": "padding"}),
    "ZeroPadding3D": ("ZeroPadding3D", {"padding": "padding"}),
    "Cropping1D": ("Cropping1D", _1D),
    "GlobalAveragePooling1D": ("GlobalAveragePooling1D", _1D),
    "GlobalMaxPooling1D": ("GlobalMaxPooling1D", _1D),
    "Embedding": ("Embedding", {"embeddings_initializer": "init"}),
    "PReLU": ("PReLU", {"alpha_initializer": "init"}),
    "LeakyReLU": ("LeakyReLU", {"negative_slope": "alpha"}),
    "Dot": ("Merge", {"axes": "dot_axes"}),
}

#: Keras 2/3 convolutions with a ``dilation_rate`` other than 1 -> lamella's atrous class.
DILATED = {"Conv1D": "AtrousConvolution1D", "Conv2D": "AtrousConvolution2D"}

#: Keras 2/3's merge layers -> the ``mode`` of Keras 1's one Merge layer (Dot: 'dot', or
#: 'cos' with ``normalize=True``).
MERGE_MODES = {
    "Add": "sum",
    "Multiply": "mul",
    "Average": "ave",
    "Maximum": "max",
    "Concatenate": "concat",
    "Dot": "dot",
}
CLASSES.update(
    {name: ("Merge", {"axis": "concat_axis"}) for name in MERGE_MODES if name not in CLASSES}
)

#: Keras 2/3 layers with no Keras 1 counterpart in lamella, and why.
UNSUPPORTED = {
    "Subtract": "Keras 1's Merge has no mode that subtracts",
    "Minimum": "Keras 1's Merge has no mode that takes the minimum",
    "Lambda": (
        "Keras 2/3 store a Lambda's function as Python bytecode of their own Python "
        "version; rebuild the model in Python and load the file with load_weights"
    ),
}

#: Keras 2/3 models nested in a model as layers.
MODELS = ("Sequential", "Functional", "Model")

#: Keras 2/3 argument -> Keras 1 argument, for every class (after the per-class renames).
RENAMES = {
    "units": "output_dim",
    "filters": "nb_filter",
    "padding": "border_mode",
    "data_format": "dim_ordering",
    "dilation_rate": "atrous_rate",
    "kernel_initializer": "init",
    "recurrent_initializer": "inner_init",
    "recurrent_activation": "inner_activation",
    "kernel_regularizer": "W_regularizer",
    "recurrent_regularizer": "U_regularizer",
    "bias_regularizer": "b_regularizer",
    "embeddings_regularizer": "W_regularizer",
    "kernel_constraint": "W_constraint",
    "bias_constraint": "b_constraint",
    "embeddings_constraint": "W_constraint",
    "use_bias": "bias",
    "dropout": "dropout_W",
    "recurrent_dropout": "dropout_U",
    "rate": "p",
    "stddev": "sigma",
    "gamma_initializer": "gamma_init",
    "beta_initializer": "beta_init",
    "batch_shape": "batch_input_shape",
    "dtype": "input_dtype",
}

#: Arguments dropped without a warning when they hold this value (Keras 1's behaviour);
#: ``ANY`` drops them whatever they hold (initial values, seeds: nothing a loaded model
#: uses).  None (no regularizer, no constraint) is always dropped quietly.
ANY = object()
DEFAULTS: dict[str, Any] = {
    "seed": ANY,
    "bias_initializer": ANY,
    "pointwise_initializer": ANY,
    "moving_mean_initializer": ANY,
    "moving_variance_initializer": ANY,
    "renorm_momentum": ANY,
    "renorm_clipping": ANY,
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": ANY,
    "zero_output_for_mask": ANY,
    "reset_after": False,
    "ragged": False,
    "optional": False,
    "synchronized": False,
    "renorm": False,
    "center": True,
    "scale": True,
    "noise_shape": None,
    "recurrent_constraint": None,
    "implementation": ANY,
    "unit_forget_bias": ANY,
    "data_format": "channels_last",
    "dim_ordering": "tf",
    "bias": True,
}

#: Arguments that change what a layer computes, with the one value lamella's Keras 1
#: layer computes as.  Where the lamella class has no such argument, another value is
#: refused (naming the layer and the argument) rather than dropped; the value itself is
#: dropped quietly.
REQUIRED: dict[str, Any] = {
    "dilation_rate": 1,  # Conv1D/Conv2D's become AtrousConvolution1D/2D's atrous_rate
    "groups": 1,
    "interpolation": "nearest",
    "keepdims": False,
    "return_state": False,
    "time_major": False,
}

#: The gate order of Keras 2/3 kernels, by the set of gate suffixes the target layer has.
GATE_ORDERS = {frozenset("icfo"): "ifco", frozenset("zrh"): "zrh"}

#: Keras 2/3 weight name -> Keras 1 weight name.
WEIGHT_NAMES = {
    "kernel": "W",
    "recurrent_kernel": "U",
    "bias": "b",
    "embeddings": "W",
    "moving_mean": "running_mean",
    "moving_variance": "running_std",
    "alpha": "alphas",
}

#: Keras 2/3 weights that are convolution kernels (spatial..., in, out), re-oriented for
#: 'th' layers; only ``kernel`` is flipped for Theano files, as Keras 2 does.
KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel")

#: Target classes whose kernels Keras 2/3 keep in Keras 1's layout (no re-orienting).
SAME_LAYOUT = ("LocallyConnected1D", "LocallyConnected2D")

_INITIALIZERS = {
    "GlorotUniform": "glorot_uniform",
    "GlorotNormal": "glorot_normal",
    "HeUniform": "he_uniform",
    "HeNormal": "he_normal",
    "LecunUniform": "lecun_uniform",
    "Orthogonal": "orthogonal",
    "Identity": "identity",
    "Zeros": "zero",
    "Ones": "one",
    "RandomNormal": "normal",
    "RandomUniform": "uniform",
}
_VARIANCE_SCALING = {
    ("fan_avg", "uniform"): "glorot_uniform",
    ("fan_avg", "normal"): "glorot_normal",
    ("fan_avg", "truncated_normal"): "glorot_normal",
    ("fan_in", "uniform"): "he_uniform",
    ("fan_in", "normal"): "he_normal",
    ("fan_in", "truncated_normal"): "he_normal",
}
_FORMATS = {"channels_last": "tf", "channels_first": "th", None: "default"}
_TF_SUFFIX = re.compile(r":\d+$")
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
    keras2_class, config = _rewritten(keras2_class, layer, config)
    lamella_class, renames = CLASSES.get(keras2_class, (keras2_class, {}))
    if keras2_class in DILATED and not _equal(config.get("dilation_rate", 1), 1):
        lamella_class = DILATED[keras2_class]
    _refuse(keras2_class, lamella_class, layer, config, keras3)
    if keras2_class == "Flatten" and config.get("data_format") == "channels_first":
        return _channels_first_flatten(layer, config, input_shape)
    if keras2_class != "InputLayer":
        config.pop("dtype", None)  # Keras 3's dtype policy; only an InputLayer's is data
    converted: dict[str, Any] = {}
    if keras2_class == "Conv2DTranspose":
        converted["output_shape"] = _transposed_shape(layer, config, input_shape)
    if keras2_class in ("ZeroPadding2D", "ZeroPadding3D") and "padding" in config:
        config["padding"] = _padding(keras2_class, layer, config["padding"])
    original: dict[str, str] = {}
    for key, value in config.items():
        new_key = renames.get(key, RENAMES.get(key, key))
        converted.update(_argument(new_key, value))
        original[new_key] = key
    if keras2_class in ("LSTM", "GRU", "SimpleRNN") and "implementation" in config:
        converted["consume_less"] = "gpu" if config["implementation"] == 2 else "cpu"
    if config.get("unit_forget_bias") is False:
        converted["forget_bias_init"] = "zero"
    if keras2_class in MERGE_MODES:
        converted["mode"] = MERGE_MODES[keras2_class]
    if keras2_class == "Dot" and converted.pop("normalize", False):
        converted["mode"] = _cosine(layer, input_shape)
    if isinstance(config.get("layer"), Mapping):
        inner = config["layer"]
        shape = (inner.get("build_config") or {}).get("input_shape")
        if shape is None and input_shape is not None:
            wrapped = keras2_class == "TimeDistributed"
            shape = (input_shape[0], *input_shape[2:]) if wrapped else input_shape
        converted["layer"] = layer_config(inner, keras3, shape)
    converted.pop("backward_layer", None)
    accepted = _arguments(lamella_class)
    kept = {}
    for key, value in converted.items():
        if key in accepted or key in _BASE_ARGUMENTS:
            kept[key] = value
        elif not _harmless(key, value) and not _harmless(original.get(key, key), value):
            warnings.warn(
                f"Keras {keras2_class} layer {layer!r}: argument "
                f"{original.get(key, key)!r}={config.get(original.get(key, key), value)!r} "
                "has no lamella equivalent and was dropped",
                stacklevel=4,
            )
    return {"class_name": lamella_class, "config": kept}


def _rewritten(keras2_class: str, layer: str, config: dict[str, Any]) -> tuple[str, dict]:
    """Keras 2/3 layers that are one of Keras 1's layers with some settings: ReLU is
    Activation('relu') or LeakyReLU, Softmax over the last axis Activation('softmax')."""
    if keras2_class == "ReLU":
        slope = config.pop("negative_slope", 0.0) or 0.0
        ceiling, threshold = config.pop("max_value", None), config.pop("threshold", 0.0)
        if ceiling is not None or threshold:
            raise ValueError(
                f"ReLU layer {layer!r} has max_value={ceiling!r}, threshold={threshold!r}: "
                "Keras 1 has no ReLU with a ceiling or a threshold"
            )
        if slope:
            return "LeakyReLU", {**config, "alpha": slope}
        return "Activation", {**config, "activation": "relu"}
    if keras2_class == "Softmax":
        axis = config.pop("axis", -1)
        if axis not in (-1, [-1]):
            raise ValueError(
                f"Softmax layer {layer!r} has axis={axis!r}: Keras 1's softmax takes the last "
                "axis (-1)"
            )
        return "Activation", {**config, "activation": "softmax"}
    return keras2_class, config


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
    accepted = _arguments(lamella_class)
    for key, required in REQUIRED.items():
        value = config.get(key, required)
        if renames.get(key, RENAMES.get(key, key)) not in accepted and not _equal(value, required):
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


def _transposed_shape(layer: str, config: dict[str, Any], input_shape: Any) -> list[Any]:
    """The output shape of a Conv2DTranspose (Keras 1's Deconvolution2D needs it), from
    its input shape, strides, padding and ``output_padding`` (popped from ``config``)."""
    extra = config.pop("output_padding", None)
    first = config.get("data_format") == "channels_first"
    sizes = (input_shape[2:] if first else input_shape[1:-1]) if input_shape else [None]
    kernel = _pair(config.get("kernel_size"))
    strides = _pair(config.get("strides", 1))
    extras = [None, None] if extra is None else _pair(extra)
    same = config.get("padding", "valid") == "same"
    out = []
    for size, k, s, p in zip(sizes, kernel, strides, extras, strict=False):
        if size is None:
            raise ValueError(
                f"Conv2DTranspose layer {layer!r}: its input has no fixed rows and columns "
                f"({input_shape}), which Keras 1's Deconvolution2D needs for its output_shape"
            )
        if p is None:
            length = size * s if same else size * s + max(k - s, 0)
        else:
            length = (size - 1) * s + (k % 2 if same else k) + p
        back = -(-length // s) if same else (length - k) // s + 1
        if back != size:
            raise ValueError(
                f"Conv2DTranspose layer {layer!r} has output_padding={extra!r}: its output "
                f"size {length} does not convolve back to its input size {size}, which "
                "Keras 1's Deconvolution2D requires"
            )
        out.append(length)
    filters = config.get("filters")
    return [None, filters, *out] if first else [None, *out, filters]


def _channels_first_flatten(layer: str, config: Mapping[str, Any], input_shape: Any) -> dict:
    """Keras 2/3's Flatten(data_format='channels_first') moves the channels last, then
    flattens: Keras 1's Permute and Flatten, in a Sequential named as the layer."""
    if input_shape is None:
        raise ValueError(f"Flatten layer {layer!r}: its input shape is unknown")
    if len(input_shape) <= 2:
        kept = {k: v for k, v in config.items() if k in ("name", "trainable")}
        return {"class_name": "Flatten", "config": kept}
    dims = [*range(2, len(input_shape)), 1]
    permute = {"name": f"{layer}_channels_last", "dims": dims,
               "batch_input_shape": list(input_shape)}  # fmt: skip
    layers = [{"class_name": "Permute", "config": permute},
              {"class_name": "Flatten", "config": {"name": f"{layer}_flatten"}}]  # fmt: skip
    return {"class_name": "Sequential", "config": {"name": layer, "layers": layers}}


def _cosine(layer: str, input_shape: Any) -> str:
    """Dot(normalize=True) is Keras 1's Merge(mode='cos') for two (batch, n) inputs."""
    if input_shape is None or any(len(shape) != 2 for shape in input_shape):
        raise ValueError(
            f"Dot layer {layer!r} has normalize=True on inputs of shapes {input_shape}: "
            "Keras 1's Merge(mode='cos') takes two (batch, n) inputs only"
        )
    return "cos"


def _padding(keras2_class: str, layer: str, value: Any) -> Any:
    """ZeroPadding2D's ((top, bottom), (left, right)) is Keras 1's (top, bottom, left,
    right); ZeroPadding3D's pairs must be symmetric, Keras 1's (dim1, dim2, dim3)."""
    if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
        return value
    if keras2_class == "ZeroPadding2D":
        return [side for pair in value for side in pair]
    if any(before != after for before, after in value):
        raise ValueError(
            f"{keras2_class} layer {layer!r} has padding={value!r}: Keras 1's ZeroPadding3D "
            "pads both ends of an axis alike"
        )
    return [before for before, _ in value]


def _pair(value: Any) -> list[Any]:
    return [value, value] if isinstance(value, int) else list(value)


def _equal(value: Any, expected: Any) -> bool:
    """``value`` is ``expected``, or a list of it (``dilation_rate=[1, 1]``)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(v == expected for v in values)


def _argument(key: str, value: Any) -> dict[str, Any]:
    """One renamed argument with its value in Keras 1's form (may become several)."""
    if key == "kernel_size":
        sizes = [value] if isinstance(value, int) else list(value)
        if len(sizes) == 1:
            return {"filter_length": sizes[0]}
        names = ("nb_row", "nb_col") if len(sizes) == 2 else ("kernel_dim1", "kernel_dim2",
                                                               "kernel_dim3")  # fmt: skip
        return dict(zip(names, sizes, strict=True))
    if key in ("subsample_length", "stride", "pool_length", "length") and isinstance(value, list):
        return {key: value[0]}
    if key == "atrous_rate" and isinstance(value, list) and len(value) == 1:
        return {key: value[0]}
    if key == "axis" and isinstance(value, list) and len(value) == 1:
        return {key: value[0]}  # tf.keras's BatchNormalization(axis=[3])
    if key == "dim_ordering":
        return {key: _FORMATS.get(value, value)}
    if key in ("init", "inner_init", "gamma_init", "beta_init"):
        return {key: initializer(value)}
    if key.endswith("_regularizer"):
        return {key: regularizer(value)}
    if key.endswith("_constraint"):
        return {key: constraint(value)}
    if key == "input_dtype" and isinstance(value, Mapping):
        return {key: value.get("config", {}).get("name", "float32")}
    return {key: value}


def initializer(value: Any) -> Any:
    """Keras 2/3's ``{"class_name": "GlorotUniform", ...}`` as Keras 1's name."""
    if not isinstance(value, Mapping):
        return value
    name = value.get("class_name")
    if name == "VarianceScaling":
        config = value.get("config", {})
        key = (config.get("mode"), config.get("distribution"))
        return _VARIANCE_SCALING.get(key, "glorot_uniform")
    return _INITIALIZERS.get(name, "glorot_uniform")


def regularizer(value: Any) -> Any:
    """Keras 2/3's ``{"class_name": "L1L2", "config": {"l1", "l2"}}`` as lamella's config."""
    if not isinstance(value, Mapping) or "class_name" not in value:
        return value
    config = value.get("config", {})
    return {"name": "L1L2Regularizer", "l1": config.get("l1", 0.0), "l2": config.get("l2", 0.0)}


def constraint(value: Any) -> Any:
    """Keras 2/3's constraint config as lamella's (MaxNorm's ``max_value`` is Keras 1's ``m``)."""
    if not isinstance(value, Mapping) or "class_name" not in value:
        return value
    config = dict(value.get("config", {}))
    if "max_value" in config:
        config["m"] = config.pop("max_value")
    for old, new in (("min_value", "low"), ("max_value", "high")):
        if old in config:
            config[new] = config.pop(old)
    return {"name": value["class_name"], **config}


def _arguments(class_name: str) -> set[str]:
    """Every argument the lamella class's constructors (along its MRO) name."""
    try:
        cls = registry("layers").get(class_name)
    except (KeyError, ValueError):
        return set()
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return names - {"self", "args", "kwargs"}


def _harmless(key: str, value: Any) -> bool:
    if value is None:
        return True
    if key in REQUIRED:
        return _equal(value, REQUIRED[key])
    if key not in DEFAULTS:
        return False
    default = DEFAULTS[key]
    if default is ANY:
        return True
    values = value if isinstance(value, list) else [value]
    return all(v == default for v in values)


def weight_key(name: str) -> tuple[str, str]:
    """``'bidirectional/forward_lstm/lstm_cell/kernel:0'`` -> ``('forward_', 'kernel')``:
    the variable's last path part, and the direction inside a Bidirectional."""
    parts = _path(name)
    direction = next((d for d in ("forward_", "backward_") for p in parts if p.startswith(d)), "")
    return direction, parts[-1]


def convert(
    layer: Any, names: list[str], arrays: list[np.ndarray], own: list[str], theano: bool
) -> list[np.ndarray]:
    """A Keras 2/3 layer's arrays in the order and layout of ``layer``'s weights
    (named ``own``): kernels re-oriented, gates split, names mapped (§4.5-4.6)."""
    if isinstance(layer, Container):
        return _nested(layer, names, arrays, theano)
    available: dict[tuple[str, str], np.ndarray] = {}
    # GRU(reset_after=True) has a recurrent bias, ``bU_<gate>`` among lamella's weights and
    # row 1 of the file's ``bias (2, 3n)`` (row 0 is the input bias).
    recurrent_bias = any(re.search(r"(^|_)bU_[a-z]$", n) for n in own)
    recurrent = any(weight_key(name)[1] == "recurrent_kernel" for name in names)
    for name, array in zip(names, arrays, strict=True):
        direction, key = weight_key(name)
        if recurrent and key == "bias" and (array.ndim == 2) != recurrent_bias:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}): the file's bias has shape "
                f"{array.shape}, a GRU with reset_after={array.ndim == 2}, but the layer has "
                f"reset_after={recurrent_bias}, a different function"
            )
        if recurrent and key == "bias" and array.ndim == 2:
            available[direction, "b"], available[direction, "bU"] = array[0], array[1]
            continue
        if key in KERNELS:  # TimeDistributed's kernel is its layer's
            array = _kernel(getattr(layer, "layer", layer), array, theano and key == "kernel")
        available[direction, WEIGHT_NAMES.get(key, key)] = array
    gates = frozenset(n.rsplit("_", 1)[1] for n in own if re.search(r"(^|_)[WUb]_[a-z]$", n))
    if gates in GATE_ORDERS:
        order = GATE_ORDERS[gates]
        for (direction, key), array in list(available.items()):
            if key in ("W", "U", "b", "bU"):
                for gate, block in zip(order, np.split(array, len(order), axis=-1), strict=True):
                    available[direction, f"{key}_{gate}"] = block
    result = []
    for name in own:
        direction = next((d for d in ("forward_", "backward_") if name.startswith(d)), "")
        match = [
            array
            for (d, key), array in available.items()
            if d == direction and (name == direction + key or name.endswith(f"_{key}"))
        ]
        if len(match) != 1:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}): no single weight of the "
                f"file's {names} matches its weight {name!r}"
            )
        result.append(match[0])
    return result


def _nested(
    layer: Any, names: list[str], arrays: list[np.ndarray], theano: bool
) -> list[np.ndarray]:
    """A model nested in the model as one layer: its file group holds all its layers'
    arrays, told apart by the layer name in their paths (``inner/dense_2/kernel``).

    Each layer's arrays are converted for its own weights, then written into copies of
    the model's weights, which a layer's weights may be views of (an LSTM's per-gate
    ``W_i`` of its fused Parameter)."""
    scratch = {id(w): w.detach().clone() for w in layer.weights}
    for sub in weight_layers(layer):
        if not sub.weights:
            continue
        mine = [i for i, name in enumerate(names) if sub.name in _path(name)[:-1]]
        own = [short_name(weight_name(w, i), sub.name) for i, w in enumerate(sub.weights)]
        values = convert(sub, [names[i] for i in mine], [arrays[i] for i in mine], own, theano)
        for weight, value in zip(sub.weights, values, strict=True):
            base = weight if id(weight) in scratch else weight._base
            if base is None or id(base) not in scratch or not base.is_contiguous():
                raise ValueError(
                    f"layer {layer.name!r}: weight {weight_name(weight, 0)!r} of its layer "
                    f"{sub.name!r} is not one of the model's weights, nor a view of one"
                )
            if tuple(weight.shape) != value.shape:
                raise ValueError(
                    f"layer {layer.name!r}: weight {weight_name(weight, 0)!r} of its layer "
                    f"{sub.name!r} has shape {tuple(weight.shape)}, but the file's array "
                    f"has shape {value.shape}"
                )
            offset = weight.storage_offset() - base.storage_offset()
            target = scratch[id(base)].as_strided(weight.shape, weight.stride(), offset)
            target.copy_(torch.as_tensor(np.ascontiguousarray(value)))
    return [scratch[id(w)].cpu().numpy() for w in layer.weights]


def _path(name: str) -> list[str]:
    return _TF_SUFFIX.sub("", name).split("/")


def _kernel(layer: Any, kernel: np.ndarray, theano: bool) -> np.ndarray:
    """A Keras 2/3 convolution kernel (spatial..., in, out) in the target's layout.

    Conv2DTranspose's is (rows, cols, out, in): Keras 1's Deconvolution2D has
    Convolution2D's layout with its input as the stack, (rows, cols, in, out) for 'tf'.
    """
    kind = type(layer).__name__
    if kernel.ndim < 3 or kind in SAME_LAYOUT:
        return kernel
    if kind == "Deconvolution2D":
        kernel = np.swapaxes(kernel, -1, -2)
    if theano:
        kernel = flip(kernel, range(kernel.ndim - 2))
    targets = [w for w in layer.weights if w.ndim == kernel.ndim + 1]
    if kernel.ndim == 3 and targets:  # Conv1D: Keras 1 keeps a dummy axis, (L, 1, in, out)
        return kernel[:, None]
    if getattr(layer, "dim_ordering", "tf") == "th":
        n = kernel.ndim
        return np.transpose(kernel, (n - 1, n - 2, *range(n - 2)))
    return kernel


def flip(kernel: np.ndarray, axes: Any) -> np.ndarray:
    """Theano's convolution flips the kernel; torch's (like TensorFlow's) does not."""
    return np.ascontiguousarray(np.flip(kernel, axis=tuple(axes)))


def keras1_spatial_axes(layer: Any, kernel: np.ndarray) -> tuple[int, ...]:
    """The spatial axes of a Keras 1 conv kernel: th (out, in, s...), tf (s..., in, out);
    Conv1D's (L, 1, in, out) has one."""
    if kernel.ndim == 4 and type(layer).__name__.endswith("1D"):
        return (0,)
    if getattr(layer, "dim_ordering", "tf") == "th":
        return tuple(range(2, kernel.ndim))
    return tuple(range(kernel.ndim - 2))
