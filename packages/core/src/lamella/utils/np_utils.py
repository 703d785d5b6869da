"""Numpy helpers of Keras 1: one-hot labels and class predictions."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(y: Any, nb_classes: int | None = None) -> np.ndarray:
    """One-hot rows (float64, as Keras 1) from integer class labels of any shape."""
    labels = np.asarray(y)
    whole = np.issubdtype(labels.dtype, np.integer) or np.all(np.mod(labels, 1) == 0)
    if labels.size and not whole:
        raise ValueError("to_categorical: labels must be whole numbers (class indices)")
    labels = labels.astype("int64").ravel()
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical: class indices must be >= 0, got {labels.min()}")
    if nb_classes is None:
        nb_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= nb_classes:
        raise ValueError(
            f"to_categorical: label {labels.max()} does not fit nb_classes={nb_classes}"
        )
    result = np.zeros((labels.size, nb_classes))
    result[np.arange(labels.size), labels] = 1.0
    return result


def probas_to_classes(y_pred: Any) -> np.ndarray:
    """argmax for several columns, ``p > 0.5`` for a single one."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim > 1 and y_pred.shape[1] > 1:
        return categorical_probas_to_classes(y_pred)
    return np.array([1 if p > 0.5 else 0 for p in y_pred.reshape(-1)])


def categorical_probas_to_classes(p: Any) -> np.ndarray:
    return np.argmax(np.asarray(p), axis=1)
