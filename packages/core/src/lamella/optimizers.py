"""Optimizers: ``from lamella.optimizers import SGD`` and ``optimizer='adam'``.

The Keras 1 optimizer classes come from lamella-optimizers through the registry.
Without it, ``compile`` still takes any ``torch.optim`` optimizer, as a class
(``torch.optim.Adam``) or an instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lamella.engine.optimizer import Optimizer, TorchOptimizer
from lamella.plugins import registry, registry_facade

__getattr__, __dir__ = registry_facade(__name__, "optimizers", globals())

__all__ = ["Optimizer", "TorchOptimizer", "get", "optimizer_from_config"]


def optimizer_from_config(
    config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
) -> Optimizer:
    """An optimizer from Keras's ``{"class_name": ..., "config": {...}}``."""
    name = config["class_name"]
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    elif name == "TorchOptimizer":
        cls = TorchOptimizer
    else:
        cls = registry("optimizers").get(name)
    return cls.from_config(dict(config.get("config", {})))


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name, a config, a lamella optimizer or a torch.optim one."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, torch.optim.Optimizer) or (
        isinstance(identifier, type) and issubclass(identifier, torch.optim.Optimizer)
    ):
        return TorchOptimizer(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        return registry("optimizers").get(identifier)()
    if isinstance(identifier, Mapping):
        return optimizer_from_config(identifier)
    raise TypeError(
        "optimizer must be a name ('sgd', 'adam' ...), a lamella optimizer, or a torch.optim "
        f"optimizer class or instance; got {identifier!r}"
    )
