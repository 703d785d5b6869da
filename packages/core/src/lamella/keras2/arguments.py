"""Keras 2/3 argument values in Keras 1's form, and which arguments lamella can do without.

A layer's arguments, once renamed by the tables, may still need their values changed
(``kernel_size`` splits into ``nb_row``/``nb_col``, initializer configs become names);
those lamella's layer does not take are dropped, quietly when they change nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lamella.keras2.tables import ANY, DEFAULTS, REQUIRED
from lamella.plugins import registry

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


def all_equal(value: Any, expected: Any) -> bool:
    """``value`` is ``expected``, or a list of it (``dilation_rate=[1, 1]``)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(v == expected for v in values)


def keras1_argument(key: str, value: Any) -> dict[str, Any]:
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


def lamella_arguments(class_name: str) -> set[str]:
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


def harmless(key: str, value: Any) -> bool:
    """Whether dropping ``key=value`` changes nothing lamella computes (DEFAULTS, REQUIRED)."""
    if value is None:
        return True
    if key in REQUIRED:
        return all_equal(value, REQUIRED[key])
    if key not in DEFAULTS:
        return False
    default = DEFAULTS[key]
    if default is ANY:
        return True
    values = value if isinstance(value, list) else [value]
    return all(v == default for v in values)
