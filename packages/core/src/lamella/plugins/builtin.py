"""lamella-core's own hook module: the built-ins, registered like any plugin's.

The plugin host registers this module directly (not through an entry point), so
a source checkout and ``LAMELLA_PLUGINS=`` (no plugins at all) still have them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lamella.plugins.hookspecs import hookimpl
from lamella.plugins.layer_modules import register_layers

LAMELLA_PLUGIN_API = 1

Register = Callable[..., None]

#: Modules whose public Layer subclasses are registered under their class names.
LAYER_MODULES = (
    "lamella.engine.topology",
    "lamella.engine.merge",
    "lamella.engine.operation",
    "lamella.engine.training",
    "lamella.engine.sequential",
    "lamella.layers.core",
    "lamella.layers.embeddings",
    "lamella.layers.normalization",
    "lamella.layers.advanced_activations",
    "lamella.layers.noise",
)


def _register_table(module_name: str, register: Register) -> None:
    """Register a module's ``BUILTINS`` table: canonical name -> Keras aliases."""
    module = importlib.import_module(module_name)
    table: dict[str, tuple[str, ...]] = module.BUILTINS
    for name, aliases in table.items():
        obj: Any = getattr(module, name)
        register(obj, name=name, aliases=aliases)


@hookimpl
def lamella_register_layers(register: Register) -> None:
    register_layers(register, *LAYER_MODULES, exclude=("Layer", "Container"))


@hookimpl
def lamella_register_activations(register: Register) -> None:
    _register_table("lamella.activations", register)


@hookimpl
def lamella_register_losses(register: Register) -> None:
    _register_table("lamella.losses", register)


@hookimpl
def lamella_register_metrics(register: Register) -> None:
    _register_table("lamella.metrics", register)


@hookimpl
def lamella_register_initializers(register: Register) -> None:
    _register_table("lamella.initializers", register)


@hookimpl
def lamella_register_regularizers(register: Register) -> None:
    _register_table("lamella.regularizers", register)


@hookimpl
def lamella_register_constraints(register: Register) -> None:
    _register_table("lamella.constraints", register)
