"""Registering the layer classes of whole modules: what a ``lamella_register_layers`` hook
of lamella's packages does, and what a plugin with many layers may do too.

A module's layers are the public ``Layer`` subclasses it defines, found when the hook
runs: a new layer class is registered without a list to update, and a base class or
helper that the module only imports (or names with a leading ``_``) is not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Iterable
from types import ModuleType
from typing import Any

__all__ = ["layer_classes", "register_layers"]


def layer_classes(module: ModuleType | str, exclude: Collection[str] = ()) -> list[type]:
    """The public Layer subclasses ``module`` defines, in the order it defines them,
    leaving out the class names in ``exclude``."""
    from lamella.engine.topology import Layer

    if isinstance(module, str):
        module = importlib.import_module(module)
    return [
        obj
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, Layer)
        and obj.__module__ == module.__name__
        and not name.startswith("_")
        and name not in exclude
    ]


def register_layers(
    register: Callable[..., Any],
    *modules: ModuleType | str,
    aliases: Callable[[str], Iterable[str]] | None = None,
    exclude: Collection[str] = (),
) -> None:
    """Call ``register`` (a hook's argument) for every layer class of ``modules``, under
    its class name and the names ``aliases(class name)`` gives (sorted, once each)."""
    for module in modules:
        for cls in layer_classes(module, exclude):
            names = sorted(set(aliases(cls.__name__))) if aliases is not None else []
            register(cls, aliases=tuple(names))
