"""Keras 2 and Keras 3 (legacy ``.h5``) files into lamella's Keras 1 layers (keras1-api.md §4.6).

Two declarative tables do the config side: class aliases and argument renames.
Weights are converted by the target lamella layer's own weight names, so
``load_model`` and ``load_weights`` of a weights-only file share one path.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from lamella.plugins import registry

#: Keras 1's 1D layers have no dim_ordering: Keras 2/3's data_format is dropped (harmless
#: when 'channels_last').
_1D = {"data_format": "data_format"}

#: Keras 2/3 class -> the lamella (Keras 1) class and extra per-class argument renames.
CLASSES: dict[str, tuple[str, dict[str, str]]] = {
    "Functional": ("Model", {}),
    "Conv1D": ("Convolution1D", {"strides": "subsample_length", **_1D}),
    "Conv2D": ("Convolution2D", {"strides": "subsample"}),
    "Conv3D": ("Convolution3D", {"strides": "subsample"}),
    "MaxPooling1D": ("MaxPooling1D", {"pool_size": "pool_length", "strides": "stride", **_1D}),
    "AveragePooling1D": (
        "AveragePooling1D",
        {"pool_size": "pool_length", "strides": "stride", **_1D},
    ),
    "UpSampling1D": ("UpSampling1D", {"size": "length", **_1D}),
    "GlobalAveragePooling1D": ("GlobalAveragePooling1D", _1D),
    "GlobalMaxPooling1D": ("GlobalMaxPooling1D", _1D),
    "Embedding": ("Embedding", {"embeddings_initializer": "init"}),
    "PReLU": ("PReLU", {"alpha_initializer": "init"}),
}

#: Keras 2/3's merge layers -> the ``mode`` of Keras 1's one Merge layer.
MERGE_MODES = {
    "Add": "sum",
    "Multiply": "mul",
    "Average": "ave",
    "Maximum": "max",
    "Concatenate": "concat",
}
CLASSES.update({name: ("Merge", {"axis": "concat_axis"}) for name in MERGE_MODES})

#: Keras 2/3 argument -> Keras 1 argument, for every class (after the per-class renames).
RENAMES = {
    "units": "output_dim",
    "filters": "nb_filter",
    "padding": "border_mode",
    "data_format": "dim_ordering",
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
    "moving_mean_initializer": ANY,
    "moving_variance_initializer": ANY,
    "renorm_momentum": ANY,
    "renorm_clipping": ANY,
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": ANY,
    "groups": 1,
    "dilation_rate": 1,
    "return_state": False,
    "zero_output_for_mask": ANY,
    "time_major": False,
    "reset_after": False,
    "ragged": False,
    "optional": False,
    "synchronized": False,
    "renorm": False,
    "center": True,
    "scale": True,
    "noise_shape": None,
    "keepdims": False,
    "recurrent_constraint": None,
    "implementation": ANY,
    "unit_forget_bias": ANY,
    "data_format": "channels_last",
    "dim_ordering": "tf",
    "bias": True,
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


def model_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Keras 2/3 model config in Keras 1's form, which ``model_from_config`` rebuilds."""
    name = config["class_name"]
    body = config["config"]
    if name == "Sequential":
        layers = body["layers"] if isinstance(body, Mapping) else body
        return {"class_name": "Sequential", "config": _sequential_layers(layers)}
    if name in ("Functional", "Model"):
        return {"class_name": "Model", "config": _functional(body)}
    return layer_config(config)


def _sequential_layers(layers: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keras 3 lists the InputLayer; Keras 1 puts its shape on the first layer instead."""
    converted = [layer_config(entry) for entry in layers]
    if len(converted) > 1 and converted[0]["class_name"] == "InputLayer":
        first = converted.pop(0)["config"]
        for key in ("batch_input_shape", "input_dtype"):
            if first.get(key) is not None:
                converted[0]["config"][key] = first[key]
    return converted


def _functional(body: Mapping[str, Any]) -> dict[str, Any]:
    layers = []
    for entry in body["layers"]:
        converted = layer_config(entry)
        converted["name"] = entry["name"]
        converted["inbound_nodes"] = [_node(node) for node in entry.get("inbound_nodes", [])]
        layers.append(converted)
    return {
        "name": body.get("name"),
        "layers": layers,
        "input_layers": _references(body["input_layers"]),
        "output_layers": _references(body["output_layers"]),
    }


def _references(refs: list[Any]) -> list[list[Any]]:
    """Keras 3 writes a single input or output as one flat ``[name, node, tensor]``."""
    return [list(refs)] if refs and isinstance(refs[0], str) else [list(r) for r in refs]


def _node(node: Any) -> list[list[Any]]:
    """One inbound node as Keras 1's ``[[layer, node_index, tensor_index], ...]``.

    Keras 2 writes ``[[name, node, tensor, kwargs], ...]``; Keras 3 ``{"args": [...]}``
    with ``__keras_tensor__`` entries, nested in lists for layers taking several inputs.
    """
    if isinstance(node, list):
        return [list(ref[:3]) for ref in node]
    found: list[list[Any]] = []
    pending = [node.get("args", [])]
    while pending:
        item = pending.pop(0)
        if isinstance(item, Mapping) and item.get("class_name") == "__keras_tensor__":
            found.append(list(item["config"]["keras_history"][:3]))
        elif isinstance(item, list):
            pending[:0] = item
    return found


def layer_config(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One layer's ``{"class_name", "config"}`` with Keras 1's class and argument names."""
    keras2_class = entry["class_name"]
    lamella_class, renames = CLASSES.get(keras2_class, (keras2_class, {}))
    config = dict(entry["config"])
    layer = config.get("name", keras2_class)
    _refuse(keras2_class, layer, config)
    if keras2_class != "InputLayer":
        config.pop("dtype", None)  # Keras 3's dtype policy; only an InputLayer's is data
    converted: dict[str, Any] = {}
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
    for key in ("layer", "backward_layer"):
        if isinstance(config.get(key), Mapping):
            converted[key] = layer_config(config[key])
    converted.pop("backward_layer", None)
    accepted = _arguments(lamella_class)
    kept = {}
    for key, value in converted.items():
        if key in accepted or key in _BASE_ARGUMENTS:
            kept[key] = value
        elif not _harmless(key, value):
            warnings.warn(
                f"Keras {keras2_class} layer {layer!r}: argument "
                f"{original.get(key, key)!r}={config.get(original.get(key, key), value)!r} "
                "has no lamella equivalent and was dropped",
                stacklevel=4,
            )
    return {"class_name": lamella_class, "config": kept}


def _refuse(keras2_class: str, layer: str, config: Mapping[str, Any]) -> None:
    """Layers whose Keras 2/3 form computes something lamella's Keras 1 layer cannot."""
    if keras2_class == "Flatten" and config.get("data_format") == "channels_first":
        raise ValueError(
            f"Flatten layer {layer!r} has data_format='channels_first': Keras 2/3 then "
            "flattens in channels-last order, which Keras 1's Flatten cannot do"
        )
    if keras2_class == "BatchNormalization" and not (
        config.get("center", True) and config.get("scale", True)
    ):
        raise ValueError(
            f"BatchNormalization layer {layer!r} has center=False or scale=False, which "
            "Keras 1's BatchNormalization does not offer"
        )


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
    parts = _TF_SUFFIX.sub("", name).split("/")
    direction = next((d for d in ("forward_", "backward_") for p in parts if p.startswith(d)), "")
    return direction, parts[-1]


def convert(
    layer: Any, names: list[str], arrays: list[np.ndarray], own: list[str], theano: bool
) -> list[np.ndarray]:
    """A Keras 2/3 layer's arrays in the order and layout of ``layer``'s weights
    (named ``own``): kernels re-oriented, gates split, names mapped (§4.5-4.6)."""
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
        if key == "kernel":
            array = _kernel(layer, array, theano)
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


def _kernel(layer: Any, kernel: np.ndarray, theano: bool) -> np.ndarray:
    """A Keras 2/3 convolution kernel (spatial..., in, out) in the target's layout."""
    if kernel.ndim < 3:
        return kernel
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
