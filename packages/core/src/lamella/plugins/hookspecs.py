"""The hooks a lamella plugin implements: one per kind of thing it can add.

Every hook receives a single keyword argument, ``register``, a callable with the
signature ``register(obj, name=None, aliases=(), override=False)``.  Passing a
callback instead of returning objects lets the host record which plugin
registered what, and lets new keyword arguments be added to a hook later without
breaking older plugins.
"""

from __future__ import annotations

import pluggy

PROJECT = "lamella"

#: The plugin API this lamella-core speaks.  A hook module may declare
#: ``LAMELLA_PLUGIN_API = N``; a module declaring another version is skipped.
PLUGIN_API_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

KINDS = (
    "layers",
    "activations",
    "losses",
    "metrics",
    "optimizers",
    "initializers",
    "regularizers",
    "constraints",
    "serializers",
)


@hookspec
def lamella_register_layers(register):
    """Register Layer subclasses (class name as the name, Keras 2 spellings as aliases)."""


@hookspec
def lamella_register_activations(register):
    """Register element-wise activation functions ``f(x) -> tensor``."""


@hookspec
def lamella_register_losses(register):
    """Register losses ``f(y_true, y_pred) -> per-sample tensor``."""


@hookspec
def lamella_register_metrics(register):
    """Register metrics ``f(y_true, y_pred) -> tensor or dict of tensors``."""


@hookspec
def lamella_register_optimizers(register):
    """Register optimizer classes (subclasses of lamella.engine.optimizer.Optimizer)."""


@hookspec
def lamella_register_initializers(register):
    """Register weight initializers ``f(shape, name=None, dim_ordering='th')``."""


@hookspec
def lamella_register_regularizers(register):
    """Register regularizer classes and their shortcut constructors."""


@hookspec
def lamella_register_constraints(register):
    """Register weight constraint classes and their shortcut names."""


@hookspec
def lamella_register_serializers(register):
    """Register lamella.plugins.Serializer objects, found by file ending."""
