"""Module-level ``__getattr__``/``__dir__`` for the modules users import names from.

Core owns every module path a user types (``lamella.layers``,
``lamella.optimizers``, ``lamella.preprocessing.image`` ...).  The names behind
them come from plugins, so each such module is a facade that asks the registry,
or imports the plugin's implementation module, when a name is first used.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from typing import Any

from lamella.plugins.errors import MissingPluginError
from lamella.plugins.first_party import provider_of, provider_of_module
from lamella.plugins.manager import host

Getattr = Callable[[str], Any]
Dir = Callable[[], list[str]]


def _attribute_error(module: str, name: str, known: Iterable[str]) -> AttributeError:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
    return AttributeError(f"module {module!r} has no attribute {name!r}.{hint}")


def registry_facade(module: str, kind: str, namespace: dict[str, Any]) -> tuple[Getattr, Dir]:
    """Resolve unknown attributes of ``module`` as names of ``kind`` in the registry."""

    def __getattr__(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        registry = host().registry(kind)
        canonical = registry.lookup.get(name)
        if canonical is not None:
            return registry.entries[canonical].obj
        dist = provider_of(name, kind) or provider_of_module(module)
        if dist is not None:
            raise MissingPluginError(name, dist, registry.failures.get(dist))
        raise _attribute_error(module, name, [*registry.lookup, *namespace])

    def __dir__() -> list[str]:
        return sorted({*namespace, *host().registry(kind).lookup})

    return __getattr__, __dir__


def module_facade(module: str, target: str, namespace: dict[str, Any]) -> tuple[Getattr, Dir]:
    """Forward unknown attributes of ``module`` to the plugin module ``target``."""

    def load() -> Any:
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name is not None and target.startswith(exc.name):
                dist = provider_of_module(module) or "a lamella plugin"
                raise MissingPluginError(module, dist) from exc
            raise

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        implementation = load()
        try:
            value = getattr(implementation, name)
        except AttributeError:
            raise _attribute_error(module, name, dir(implementation)) from None
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        try:
            names = [n for n in dir(load()) if not n.startswith("_")]
        except ImportError:
            names = []
        return sorted({*namespace, *names})

    return __getattr__, __dir__
