"""The training configuration: what ``compile`` was given, saved as JSON and replayed at load.

Functions (custom losses and metrics) are stored by their ``__name__``, as Keras
does, and found again in ``custom_objects`` first, then in lamella's registries.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella.engine.optimizer import TorchOptimizer
from lamella.hdf5.optimizer_state import keras_state
from lamella.optimizers import optimizer_from_config
from lamella.plugins import name_of


def training_config(model: Any) -> dict[str, Any] | None:
    """Keras 1's ``training_config`` document, or None for a model never compiled."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(model, "objectives"):
        return None
    return {
        "optimizer_config": {
            "class_name": name_of("optimizers", type(optimizer)) or type(optimizer).__name__,
            "config": optimizer.get_config(),
        },
        "loss": model.loss,
        "metrics": model.metrics,
        "sample_weight_mode": model.sample_weight_mode,
        "loss_weights": model.loss_weights,
    }


def _resolve(value: Any, custom_objects: Mapping[str, Any]) -> Any:
    """Names of custom functions replaced by the objects the caller passed."""
    if isinstance(value, str):
        return custom_objects.get(value, value)
    if isinstance(value, list):
        return [_resolve(item, custom_objects) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(item, custom_objects) for key, item in value.items()}
    return value


def restore_training(
    model: Any,
    config: Any,
    state: list[np.ndarray],
    custom_objects: Mapping[str, Any] | None,
    filepath: str,
    state_names: Sequence[str] = (),
    backend: str | None = None,
) -> None:
    """Compile ``model`` as the file says and put back the optimizer state.

    ``state`` is in Keras's order and layouts unless its names and the file's
    ``backend`` say it is a lamella file in the optimizer's own order
    (:func:`lamella.hdf5.optimizer_state.keras_state`).  What cannot be restored is
    reported by one warning: without a training configuration the model stays
    uncompiled; with a state that does not fit the optimizer, training starts from a
    fresh state.
    """
    objects = dict(custom_objects or {})
    try:
        if not isinstance(config, dict):
            raise TypeError(f"it is {type(config).__name__}, not a JSON object")
        optimizer = optimizer_from_config(config["optimizer_config"], objects)
        model.compile(
            optimizer,
            _resolve(config["loss"], objects),
            metrics=_resolve(config.get("metrics"), objects),
            loss_weights=config.get("loss_weights"),
            sample_weight_mode=config.get("sample_weight_mode"),
        )
    except (ImportError, KeyError, TypeError, ValueError) as exc:
        warnings.warn(
            f"{filepath!r}: the model was loaded but NOT compiled, because its training "
            f"configuration cannot be restored: {type(exc).__name__}: {exc}. Compile it yourself.",
            stacklevel=4,
        )
        return
    if not state:
        return
    try:
        if (
            isinstance(model.optimizer, TorchOptimizer)
            and not model.optimizer.torch_optimizer.state
        ):
            _create_torch_state(model.optimizer)
        model.optimizer.set_weights(keras_state(model, list(state_names), backend, state))
    except ValueError as exc:
        warnings.warn(
            f"{filepath!r}: the optimizer state was not restored ({exc}); training "
            "continues from a fresh optimizer state",
            stacklevel=4,
        )


def _create_torch_state(optimizer: TorchOptimizer) -> None:
    """torch.optim creates most state at the first step: take one with zero gradients
    and put the parameters back, so that ``set_weights`` has the tensors to fill."""
    params = optimizer.params
    with torch.no_grad():
        saved = [p.detach().clone() for p in params]
        for p in params:
            p.grad = torch.zeros_like(p)
        optimizer.torch_optimizer.step()
        for p, value in zip(params, saved, strict=True):
            p.copy_(value)
    optimizer.zero_grad()
