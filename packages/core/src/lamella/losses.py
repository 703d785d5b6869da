"""Keras 1 objectives: each maps ``(y_true, y_pred)`` to one loss value per sample.

Only the last axis is reduced, as in Keras 1, so that the training loop can
apply sample weights and masks (per sample, or per timestep for 3D outputs)
before averaging.  Probabilities are clipped with ``epsilon()`` exactly where
Keras clips them, so loss values match Keras's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from lamella.backend.config import epsilon
from lamella.backend.symbolic import wrap_functions
from lamella.plugins import resolve


def _require_tensors(name: str, y_true: object, y_pred: object) -> None:
    for arg, value in (("y_true", y_true), ("y_pred", y_pred)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: {arg} must be a torch.Tensor, got {type(value).__name__}")


def _targets(name: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``y_true`` in ``y_pred``'s dtype and device, once both are checked.

    Shapes must be equal: broadcasting (b,) against (b, 1) would silently
    compute a (b, b) loss.
    """
    _require_tensors(name, y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{name}: y_true and y_pred must have the same shape, got "
            f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}"
        )
    return y_true.to(device=y_pred.device, dtype=y_pred.dtype)


def _class_indices(name: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Integer targets as a long tensor of shape ``y_pred.shape[:-1]``.

    Accepts the trailing length-1 axis Keras 1 expects ((b, 1), (b, t, 1)) as
    well as its absence, and float tensors holding whole numbers, since labels
    often arrive as floats from numpy.
    """
    _require_tensors(name, y_true, y_pred)
    lead = tuple(y_pred.shape[:-1])
    if y_pred.ndim < 2 or tuple(y_true.shape) not in (lead, (*lead, 1)):
        raise ValueError(
            f"{name}: y_true must hold one class index per sample, of shape {lead} or "
            f"{(*lead, 1)} for y_pred of shape {tuple(y_pred.shape)}; got "
            f"{tuple(y_true.shape)}"
        )
    index = y_true.reshape(lead)
    if index.dtype == torch.bool or index.is_complex():
        raise TypeError(f"{name}: y_true must hold integer class indices, got dtype {index.dtype}")
    # Values (whole numbers, in range) are checked once per fit by the model, not here:
    # reading them back would stall the device on every batch.
    return index.to(device=y_pred.device, dtype=torch.long)


def _probabilities(y_pred: torch.Tensor) -> torch.Tensor:
    """Rows rescaled to sum 1, then clipped away from 0 and 1 (Keras's crossentropy input)."""
    eps = epsilon()
    return (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(eps, 1.0 - eps)


def mean_squared_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = _targets("mean_squared_error", y_true, y_pred)
    return (y_pred - y_true).square().mean(dim=-1)


def mean_absolute_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = _targets("mean_absolute_error", y_true, y_pred)
    return (y_pred - y_true).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """In percent; zero targets are clipped to epsilon rather than dividing by zero."""
    y_true = _targets("mean_absolute_percentage_error", y_true, y_pred)
    ratio = (y_true - y_pred) / y_true.abs().clamp(min=epsilon())
    return 100.0 * ratio.abs().mean(dim=-1)


def mean_squared_logarithmic_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Negative values are clipped to epsilon first, so the logarithm stays finite."""
    y_true = _targets("mean_squared_logarithmic_error", y_true, y_pred)
    eps = epsilon()
    diff = torch.log1p(y_pred.clamp(min=eps)) - torch.log1p(y_true.clamp(min=eps))
    return diff.square().mean(dim=-1)


def squared_hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Expects targets in {-1, 1}, as Keras does."""
    y_true = _targets("squared_hinge", y_true, y_pred)
    return F.relu(1.0 - y_true * y_pred).square().mean(dim=-1)


def hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Expects targets in {-1, 1}, as Keras does."""
    y_true = _targets("hinge", y_true, y_pred)
    return F.relu(1.0 - y_true * y_pred).mean(dim=-1)


def binary_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Takes probabilities; clipped, turned back into logits for a stable torch kernel."""
    y_true = _targets("binary_crossentropy", y_true, y_pred)
    eps = epsilon()
    logits = torch.logit(y_pred.clamp(eps, 1.0 - eps))
    return F.binary_cross_entropy_with_logits(logits, y_true, reduction="none").mean(dim=-1)


def categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Takes one-hot (or soft) targets and probabilities, renormalised as Keras does."""
    y_true = _targets("categorical_crossentropy", y_true, y_pred)
    return -(y_true * _probabilities(y_pred).log()).sum(dim=-1)


def sparse_categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Categorical crossentropy with class indices instead of one-hot targets."""
    index = _class_indices("sparse_categorical_crossentropy", y_true, y_pred)
    picked = _probabilities(y_pred).gather(-1, index.unsqueeze(-1)).squeeze(-1)
    return -picked.log()


def kullback_leibler_divergence(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Summed (not averaged) over the last axis, as Keras does."""
    y_true = _targets("kullback_leibler_divergence", y_true, y_pred)
    eps = epsilon()
    y_true = y_true.clamp(eps, 1.0)
    y_pred = y_pred.clamp(eps, 1.0)
    return (y_true * (y_true / y_pred).log()).sum(dim=-1)


def poisson(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = _targets("poisson", y_true, y_pred)
    return (y_pred - y_true * (y_pred + epsilon()).log()).mean(dim=-1)


def cosine_proximity(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Negated, and averaged rather than summed over the last axis, as Keras 1 does.

    Each vector is divided by sqrt(max(sum of squares, epsilon)) (the Theano
    backend's l2_normalize), so all-zero vectors give 0 rather than NaN.
    """
    y_true = _targets("cosine_proximity", y_true, y_pred)
    floor = epsilon() ** 0.5
    unit_true = F.normalize(y_true, dim=-1, eps=floor)
    unit_pred = F.normalize(y_pred, dim=-1, eps=floor)
    return -(unit_true * unit_pred).mean(dim=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence
cosine = cosine_proximity

BUILTINS: dict[str, tuple[str, ...]] = {
    "mean_squared_error": ("mse", "MSE"),
    "mean_absolute_error": ("mae", "MAE"),
    "mean_absolute_percentage_error": ("mape", "MAPE"),
    "mean_squared_logarithmic_error": ("msle", "MSLE"),
    "squared_hinge": (),
    "hinge": (),
    "binary_crossentropy": (),
    "categorical_crossentropy": (),
    "sparse_categorical_crossentropy": (),
    "kullback_leibler_divergence": ("kld", "KLD"),
    "poisson": (),
    "cosine_proximity": ("cosine",),
}

# Applied to symbolic tensors (``losses.mse(x, decoded)`` on a model's tensors), a loss
# is recorded as one graph node.
wrap_functions(globals(), BUILTINS)

__all__ = [
    "BUILTINS",
    "get",
    *BUILTINS,
    *(alias for aliases in BUILTINS.values() for alias in aliases),
]


def get(identifier: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss from a registered name (``'mse'``) or a callable ``f(y_true, y_pred)``."""
    found = resolve("losses", identifier)
    if not callable(found):
        raise TypeError(f"loss must be a name or a callable, got {identifier!r}")
    return found
