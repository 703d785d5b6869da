"""Keras 1 metrics: accuracies, batch-wise precision/recall/F-scores, and every loss.

Every metric returns one scalar for the batch, as Keras 1.2.2's do: accuracies and
losses their mean over the batch (every sample and timestep), the precision-style
metrics a value computed over the whole batch.  The training loop weights each
batch's value by its size, so an epoch's accuracy is the mean over its samples.
Each loss is also a metric of the same name (its batch mean).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from lamella import losses
from lamella.backend.config import epsilon
from lamella.backend.symbolic import wrap_functions
from lamella.losses import _class_indices, _targets
from lamella.plugins import resolve
from lamella.utils.generic_utils import get_from_module  # noqa: F401  (a Keras 1 name here)


def binary_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Predictions are rounded half to even, as Keras's backends round."""
    y_true = _targets("binary_accuracy", y_true, y_pred)
    return (y_true == y_pred.round()).to(y_pred.dtype).mean()


def categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Ties go to the first maximal class, in targets and predictions alike."""
    y_true = _targets("categorical_accuracy", y_true, y_pred)
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).to(y_pred.dtype).mean()


def sparse_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    index = _class_indices("sparse_categorical_accuracy", y_true, y_pred)
    return (index == y_pred.argmax(dim=-1)).to(y_pred.dtype).mean()


def top_k_categorical_accuracy(
    y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5
) -> torch.Tensor:
    """Whether the target class (argmax of ``y_true``) is among the ``k`` highest predictions.

    Ties count in the target's favour (TensorFlow's ``in_top_k``): a class is in
    the top k when fewer than k classes score strictly higher.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k_categorical_accuracy: k must be an int >= 1, got {k!r}")
    y_true = _targets("top_k_categorical_accuracy", y_true, y_pred)
    target = y_true.argmax(dim=-1, keepdim=True)
    higher = (y_pred > y_pred.gather(-1, target)).sum(dim=-1)
    return (higher < k).to(y_pred.dtype).mean()


def _count_positives(x: torch.Tensor) -> torch.Tensor:
    """How many entries round to 1 after clipping to [0, 1]: Keras's soft-to-hard counting."""
    return x.clamp(0.0, 1.0).round().sum()


def matthews_correlation(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = _targets("matthews_correlation", y_true, y_pred)
    pred_pos = y_pred.clamp(0.0, 1.0).round()
    true_pos = y_true.clamp(0.0, 1.0).round()
    pred_neg, true_neg = 1.0 - pred_pos, 1.0 - true_pos
    tp = (true_pos * pred_pos).sum()
    tn = (true_neg * pred_neg).sum()
    fp = (true_neg * pred_pos).sum()
    fn = (true_pos * pred_neg).sum()
    denominator = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)).sqrt()
    return (tp * tn - fp * fn) / (denominator + epsilon())


def precision(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = _targets("precision", y_true, y_pred)
    return _count_positives(y_true * y_pred) / (_count_positives(y_pred) + epsilon())


def recall(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = _targets("recall", y_true, y_pred)
    return _count_positives(y_true * y_pred) / (_count_positives(y_true) + epsilon())


def fbeta_score(y_true: torch.Tensor, y_pred: torch.Tensor, beta: float = 1) -> torch.Tensor:
    """Weighted harmonic mean of precision and recall; ``beta`` > 1 favours recall.

    Keras 1.2.2 meant to return 0 when the batch has no positive target; its
    check never fired on symbolic tensors, and the formula already gives 0
    there, so no special case is needed.
    """
    if beta < 0:
        raise ValueError(f"fbeta_score: beta must be >= 0, got {beta!r}")
    p = precision(y_true, y_pred)
    r = recall(y_true, y_pred)
    bb = beta**2
    return (1 + bb) * p * r / (bb * p + r + epsilon())


def fmeasure(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """F1 score, under the name Keras 1 logs it."""
    return fbeta_score(y_true, y_pred, beta=1)


fscore = f1score = fmeasure


def _batch_mean(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., Any]:
    """A loss as Keras 1's metric of that name: the mean of its per-sample values."""

    @functools.wraps(loss)
    def metric(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return loss(y_true, y_pred).mean()

    metric.__module__ = __name__
    metric.__qualname__ = loss.__name__
    return metric


mean_squared_error = mse = MSE = _batch_mean(losses.mean_squared_error)
mean_absolute_error = mae = MAE = _batch_mean(losses.mean_absolute_error)
mean_absolute_percentage_error = mape = MAPE = _batch_mean(losses.mean_absolute_percentage_error)
mean_squared_logarithmic_error = msle = MSLE = _batch_mean(losses.mean_squared_logarithmic_error)
squared_hinge = _batch_mean(losses.squared_hinge)
hinge = _batch_mean(losses.hinge)
binary_crossentropy = _batch_mean(losses.binary_crossentropy)
categorical_crossentropy = _batch_mean(losses.categorical_crossentropy)
sparse_categorical_crossentropy = _batch_mean(losses.sparse_categorical_crossentropy)
kullback_leibler_divergence = kld = KLD = _batch_mean(losses.kullback_leibler_divergence)
poisson = _batch_mean(losses.poisson)
cosine_proximity = cosine = _batch_mean(losses.cosine_proximity)

BUILTINS: dict[str, tuple[str, ...]] = {
    "binary_accuracy": (),
    "categorical_accuracy": (),
    "sparse_categorical_accuracy": (),
    "top_k_categorical_accuracy": (),
    "matthews_correlation": (),
    "precision": (),
    "recall": (),
    "fbeta_score": (),
    "fmeasure": ("fscore", "f1score"),
    **losses.BUILTINS,
}


# Applied to symbolic tensors, a metric is recorded as one graph node.
wrap_functions(globals(), BUILTINS)


def get(identifier: Any) -> Callable[[torch.Tensor, torch.Tensor], Any]:
    """A metric from a registered name or a callable ``f(y_true, y_pred)``."""
    found = resolve("metrics", identifier)
    if not callable(found):
        raise TypeError(f"metric must be a name or a callable, got {identifier!r}")
    return found
