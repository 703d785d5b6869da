"""The hook module that the ``lamella`` entry point names.

lamella imports it when it first needs a registry, so it stays light: each hook
imports its implementation module only when it is called.
"""

from __future__ import annotations

from collections.abc import Callable

from lamella.plugins import hookimpl

#: The plugin API this module was written for; lamella skips it, with a
#: message, if the installed lamella-core speaks another one.
LAMELLA_PLUGIN_API = 1

Register = Callable[..., None]


@hookimpl
def lamella_register_activations(register: Register) -> None:
    from lamella_swish.activations import swish

    register(swish)


@hookimpl
def lamella_register_layers(register: Register) -> None:
    from lamella_swish.layers import ScaledSwish

    register(ScaledSwish)


@hookimpl
def lamella_register_losses(register: Register) -> None:
    from lamella_swish.losses import log_cosh

    register(log_cosh, aliases=("logcosh",))


@hookimpl
def lamella_register_metrics(register: Register) -> None:
    from lamella_swish.metrics import mean_error

    register(mean_error)
