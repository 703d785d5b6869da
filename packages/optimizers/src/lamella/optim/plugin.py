"""The hook module of lamella-optimizers, named by its ``lamella`` entry point.

It registers the seven Keras 1 optimizers under their class names and their
lowercase Keras string names (``compile(optimizer='adam')``).  The classes are
imported inside the hook so that loading this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamella.plugins import hookimpl

LAMELLA_PLUGIN_API = 1


@hookimpl
def lamella_register_optimizers(register: Callable[..., Any]) -> None:
    from lamella.optim import SGD, Adadelta, Adagrad, Adam, Adamax, Nadam, RMSprop

    for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam):
        register(cls, aliases=(cls.__name__.lower(),))
