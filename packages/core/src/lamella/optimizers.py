"""Optimizers: ``from lamella.optimizers import SGD`` and ``optimizer='adam'``.

The Keras 1 optimizer classes come from lamella-optimizers through the registry.
Without it, ``compile`` still takes any ``torch.optim`` optimizer, as a class
(``torch.optim.Adam``) or an instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from lamella.engine.optimizer import Optimizer, TorchOptimizer
from lamella.plugins import registry, registry_facade
from lamella.utils.generic_utils import (
    custom_objects_in_effect,
    get_custom_objects,
    get_from_module,
)

if TYPE_CHECKING:
    # lamella-optimizers' classes and Keras's lowercase names for them, as the registry
    # gives them, for type checkers and IDEs only (tests/core/test_facade_declarations.py
    # keeps this in step).
    from lamella import optim as _plugin

    SGD = _plugin.SGD
    sgd = _plugin.SGD
    RMSprop = _plugin.RMSprop
    rmsprop = _plugin.RMSprop
    Adagrad = _plugin.Adagrad
    adagrad = _plugin.Adagrad
    Adadelta = _plugin.Adadelta
    adadelta = _plugin.Adadelta
    Adam = _plugin.Adam
    adam = _plugin.Adam
    Adamax = _plugin.Adamax
    adamax = _plugin.Adamax
    Nadam = _plugin.Nadam
    nadam = _plugin.Nadam

__getattr__, __dir__ = registry_facade(__name__, "optimizers", globals())

__all__ = [
    "Optimizer",
    "TorchOptimizer",
    "clip_norm",
    "get",
    "get_custom_objects",
    "get_from_module",
    "optimizer_from_config",
]


def clip_norm(g: torch.Tensor, c: float, n: torch.Tensor | float) -> torch.Tensor:
    """``g`` scaled by ``c / n`` when the norm ``n`` reaches ``c > 0`` (Keras 1's ``clipnorm``).

    ``n`` is the global norm of all gradients, so every gradient is scaled by the
    same factor; ``c <= 0`` means no clipping.
    """
    if not isinstance(g, torch.Tensor):
        raise TypeError(f"clip_norm: g must be a torch.Tensor, got {type(g).__name__}")
    if c <= 0:
        return g
    norm = torch.as_tensor(n, dtype=g.dtype, device=g.device)
    return torch.where(norm >= c, g * (c / norm), g)


def optimizer_from_config(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
) -> Optimizer:
    """An optimizer from Keras's ``{"class_name": ..., "config": {...}}``."""
    name = config["class_name"]
    objects = custom_objects_in_effect(custom_objects)
    if name in objects:
        cls = objects[name]
    elif name == "TorchOptimizer":
        cls = TorchOptimizer
    else:
        cls = registry("optimizers").get(name)
    return cls.from_config(dict(config.get("config", {})))


def get(identifier: Any, kwargs: Mapping[str, Any] | None = None) -> Optimizer:
    """An optimizer from a name, a config, a lamella optimizer or a torch.optim one.

    A name is looked up in the custom objects, then in the registry, and built
    with ``kwargs`` (``get('sgd', {'lr': 0.1})``).
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, torch.optim.Optimizer) or (
        isinstance(identifier, type) and issubclass(identifier, torch.optim.Optimizer)
    ):
        return TorchOptimizer(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        objects = custom_objects_in_effect()
        found = (
            objects[identifier] if identifier in objects else registry("optimizers").get(identifier)
        )
        return found(**(kwargs or {}))
    if isinstance(identifier, Mapping):
        return optimizer_from_config(identifier)
    raise TypeError(
        "optimizer must be a name ('sgd', 'adam' ...), a lamella optimizer, or a torch.optim "
        f"optimizer class or instance; got {identifier!r}"
    )
