"""Layers as Keras's ``{"class_name": ..., "config": {...}}`` and back, via the registry.

Classes are found only through the registry (or ``custom_objects``): nothing a
config names is ever imported, so loading a file cannot run code it brings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamella.plugins import registry


def class_name(layer: Any) -> str:
    """The name a layer is saved under: its registered name, else its class name."""
    return registry("layers").name_of(type(layer)) or type(layer).__name__


def layer_to_config(layer: Any) -> dict[str, Any]:
    return {"class_name": class_name(layer), "config": layer.get_config()}


def layer_from_config(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
) -> Any:
    """A layer (or model) rebuilt from ``{"class_name", "config"}``."""
    if "class_name" not in config or "config" not in config:
        raise ValueError(
            "A layer config must have the keys 'class_name' and 'config', got "
            f"{sorted(config)}"
        )
    name = config["class_name"]
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    else:
        cls = registry("layers").get(name)
    from_config = cls.from_config
    if "custom_objects" in from_config.__code__.co_varnames:
        return from_config(config["config"], custom_objects=custom_objects)
    return from_config(config["config"])
