"""lamella's plugin system: hooks, registries, and the facades users import from.

A plugin is a distribution that declares an entry point in the ``lamella``
group, pointing at a light module of ``@hookimpl`` functions::

    [project.entry-points.lamella]
    swish = "lamella_swish.plugin"

    # lamella_swish/plugin.py
    from lamella.plugins import hookimpl

    @hookimpl
    def lamella_register_activations(register):
        from lamella_swish.activations import swish
        register(swish)

lamella-core registers its own built-ins through the very same hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamella.plugins.errors import MissingPluginError, PluginError, UnknownNameError
from lamella.plugins.facade import module_facade, registry_facade
from lamella.plugins.hookspecs import KINDS, PLUGIN_API_VERSION, hookimpl, hookspec
from lamella.plugins.layer_modules import layer_classes, register_layers
from lamella.plugins.manager import RUNTIME, PluginInfo, host, reset
from lamella.plugins.registry import Registry, make_entry
from lamella.plugins.serializer import Serializer
from lamella.utils.generic_utils import custom_objects_in_effect
from lamella.utils.messages import quoted

__all__ = [
    "KINDS",
    "PLUGIN_API_VERSION",
    "MissingPluginError",
    "PluginError",
    "PluginInfo",
    "Registry",
    "Serializer",
    "UnknownNameError",
    "available",
    "get",
    "hookimpl",
    "hookspec",
    "layer_classes",
    "module_facade",
    "name_of",
    "plugins",
    "register",
    "register_layers",
    "registry",
    "registry_facade",
    "reset",
    "resolve",
    "serializer_for",
    "unregister",
]


def registry(kind: str) -> Registry:
    """The registry of one kind (``'layers'``, ``'losses'`` ...), built on first use."""
    if kind not in KINDS:
        raise ValueError(f"Unknown registry kind {kind!r}; expected one of {', '.join(KINDS)}")
    return host().registry(kind)


def get(kind: str, name: str) -> Any:
    """The object registered as ``name``; the error lists close matches or the fix."""
    return registry(kind).get(name)


def available(name: str, kind: str = "layers") -> bool:
    """True if ``name`` can be used now (for code that probes instead of importing)."""
    return name in registry(kind)


def name_of(kind: str, obj: Any) -> str | None:
    """The registered name of ``obj``, if it is registered."""
    return registry(kind).name_of(obj)


def register(
    kind: str,
    obj: Any,
    name: str | None = None,
    aliases: tuple[str, ...] = (),
    override: bool = False,
) -> None:
    """Register ``obj`` from running code (a notebook, a test) rather than a plugin."""
    entry = make_entry(obj, name, aliases, RUNTIME, override)
    registry(kind)  # build the plugin entries first, so conflicts are detected
    host().add_runtime(kind, entry)


def unregister(kind: str, name: str) -> None:
    """Remove a name registered with :func:`register`."""
    host().remove_runtime(kind, name)


def plugins() -> list[PluginInfo]:
    """Every plugin found, loaded or not, after building every registry."""
    current = host()
    for kind in KINDS:
        current.registry(kind)
    return list(current.plugins.values())


def serializer_for(filepath: str) -> Serializer:
    """The serializer registered for the ending of ``filepath``."""
    import os

    ending = os.path.splitext(str(filepath))[1].lower()
    if not ending:
        raise ValueError(
            f"Cannot tell the file format of {str(filepath)!r}: it has no ending such as '.h5'."
        )
    return registry("serializers").get(ending)


def resolve(
    kind: str,
    identifier: Any,
    custom_objects: Mapping[str, Any] | None = None,
    instantiate: bool = False,
) -> Any:
    """Keras's ``get()``: a registered name, a ``{"name": ..., ...}`` config, or the object.

    With ``instantiate``, a name or config is called to make the object, as Keras
    does for regularizers and constraints (``'l2'`` gives ``l2()``).  Custom objects
    (``custom_object_scope``, a load's ``custom_objects``) come before the registry.
    """
    if identifier is None or not isinstance(identifier, (str, Mapping)):
        return identifier
    custom_objects = custom_objects_in_effect(custom_objects)
    if isinstance(identifier, Mapping):
        config = dict(identifier)
        name = config.pop("name", None) or config.pop("class_name", None)
        if name is None:
            raise ValueError(
                f"A {kind} config needs a 'name' or 'class_name' key: {quoted(identifier)}"
            )
        config = dict(config.get("config", config))
        return resolve(kind, name, custom_objects)(**config)
    if custom_objects and identifier in custom_objects:
        found = custom_objects[identifier]
    else:
        found = get(kind, identifier)
    return found() if instantiate and callable(found) else found
