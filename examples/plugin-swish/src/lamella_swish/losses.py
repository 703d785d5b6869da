"""The log-cosh loss: squared error for small residuals, absolute error for large ones."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def log_cosh(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, one value per sample.

    lamella's training loop averages per-sample values after applying sample
    weights, so the loss reduces only the last axis, like Keras 1's losses.
    ``log(cosh(d)) = |d| + softplus(-2|d|) - log(2)`` does not overflow where
    ``cosh`` would (|d| > 89 in float32).
    """
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"log_cosh: y_true and y_pred must have the same shape, got "
            f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}"
        )
    d = (y_pred - y_true.to(y_pred.dtype)).abs()
    return (d + F.softplus(-2.0 * d) - math.log(2.0)).mean(dim=-1)
