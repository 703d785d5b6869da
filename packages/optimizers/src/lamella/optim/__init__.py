"""lamella-optimizers: Keras 1's seven optimizers, with Keras 1's update rules, on torch.

The classes load on first use, so that the hook module (``lamella.optim.plugin``),
which lives in this package, stays cheap to import when lamella scans plugins.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamella.optim.adam import Adam, Adamax, Nadam
    from lamella.optim.adaptive import Adadelta, Adagrad, RMSprop
    from lamella.optim.sgd import SGD

_HOMES = {
    "SGD": "sgd",
    "RMSprop": "adaptive",
    "Adagrad": "adaptive",
    "Adadelta": "adaptive",
    "Adam": "adam",
    "Adamax": "adam",
    "Nadam": "adam",
}

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "Adamax", "Nadam", "RMSprop"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
