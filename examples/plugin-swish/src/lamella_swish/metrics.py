"""The mean-error metric: the signed bias of the predictions, which MAE and MSE hide."""

from __future__ import annotations

import torch


def mean_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """``mean(y_pred - y_true)`` over the last axis: above zero, the model over-predicts.

    It is reported in the logs under its ``__name__``, ``mean_error``.
    """
    return (y_pred - y_true.to(y_pred.dtype)).mean(dim=-1)
