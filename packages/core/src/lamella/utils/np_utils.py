"""Numpy helpers of Keras 1: one-hot labels, class predictions, scores and conv lengths."""

from __future__ import annotations

from typing import Any

import numpy as np

from lamella.keras2.construct import one_of


def to_categorical(
    y: Any, nb_classes: int | None = None, num_classes: int | None = None
) -> np.ndarray:
    """One-hot rows (float64, as Keras 1) from integer class labels of any shape.

    ``num_classes`` is Keras 2's name for ``nb_classes``."""
    nb_classes = one_of(
        "to_categorical", ("nb_classes", nb_classes), ("num_classes", num_classes), None
    )
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


def normalize(a: Any, axis: int = -1, order: int | float | str = 2) -> np.ndarray:
    """``a`` divided by its ``order``-norm along ``axis``; all-zero rows stay zero."""
    a = np.asarray(a)
    norms = np.atleast_1d(np.linalg.norm(a, order, axis))
    norms[norms == 0] = 1
    return a / np.expand_dims(norms, axis)


def binary_logloss(p: Any, y: Any) -> Any:
    """The mean binary crossentropy of probabilities ``p`` for 0/1 labels ``y``.

    ``p`` is clipped to ``[1e-15, 1 - 1e-15]``; as in Keras 1 the sum runs over the
    first axis only, so 2D input gives one loss per column.
    """
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    y = np.asarray(y)
    if len(y) == 0:
        raise ValueError("binary_logloss: y is empty")
    total = np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=0)
    return -total / len(y)


def multiclass_logloss(p: Any, y: Any) -> float:
    """The mean of ``-log p[i, y[i] - 1]``: Keras 1 read ``y`` as classes numbered from 1."""
    p = np.asarray(p)
    y = np.asarray(y).astype(int).ravel()
    if len(y) == 0:
        raise ValueError("multiclass_logloss: y is empty")
    if y.min() < 1 or y.max() > p.shape[1]:
        raise ValueError(
            f"multiclass_logloss: classes in y are numbered 1 to {p.shape[1]}, got "
            f"{y.min()} to {y.max()}"
        )
    picked = p[np.arange(len(y)), y - 1]
    return float(-np.mean(np.log(picked)))


def accuracy(p: Any, y: Any) -> float:
    """The fraction of entries where the predicted classes ``p`` equal the labels ``y``."""
    p, y = np.asarray(p), np.asarray(y)
    if len(p) != len(y):
        raise ValueError(f"accuracy: p has {len(p)} entries but y has {len(y)}")
    return float(np.mean([a == b for a, b in zip(p, y, strict=True)]))


def convert_kernel(kernel: Any, dim_ordering: str | None = None) -> np.ndarray:
    """A convolution kernel with its spatial axes reversed (Theano <-> TensorFlow conventions).

    ``dim_ordering`` ``'th'`` reads the kernel as ``(out, in, *spatial)``, ``'tf'``
    as ``(*spatial, in, out)``; it defaults to the backend's image_dim_ordering.
    Applying it twice gives the kernel back.
    """
    from lamella.backend.config import image_dim_ordering

    kernel = np.asarray(kernel)
    ordering = dim_ordering or image_dim_ordering()
    if not 4 <= kernel.ndim <= 5:
        raise ValueError(f"convert_kernel: expected a 4D or 5D kernel, got shape {kernel.shape}")
    flip = [slice(None, None, -1)] * kernel.ndim
    if ordering == "th":
        flip[:2] = [slice(None)] * 2
    elif ordering == "tf":
        flip[-2:] = [slice(None)] * 2
    else:
        raise ValueError(f"convert_kernel: dim_ordering must be 'th' or 'tf', got {ordering!r}")
    return np.copy(kernel[tuple(flip)])


_BORDER_MODES = ("same", "valid", "full")


def _check_border_mode(function: str, border_mode: str) -> None:
    if border_mode not in _BORDER_MODES:
        raise ValueError(
            f"{function}: border_mode must be one of {', '.join(_BORDER_MODES)}, got "
            f"{border_mode!r}"
        )


def conv_output_length(
    input_length: int | None, filter_size: int, border_mode: str, stride: int, dilation: int = 1
) -> int | None:
    """The length of a convolution's output along one axis (``None`` stays ``None``)."""
    _check_border_mode("conv_output_length", border_mode)
    if input_length is None:
        return None
    span = filter_size + (filter_size - 1) * (dilation - 1)
    if border_mode == "same":
        length = input_length
    elif border_mode == "valid":
        length = input_length - span + 1
    else:
        length = input_length + span - 1
    return (length + stride - 1) // stride


def conv_input_length(
    output_length: int | None, filter_size: int, border_mode: str, stride: int
) -> int | None:
    """The input length that gives ``output_length`` (the inverse of conv_output_length)."""
    _check_border_mode("conv_input_length", border_mode)
    if output_length is None:
        return None
    pad = {"same": filter_size // 2, "valid": 0, "full": filter_size - 1}[border_mode]
    return (output_length - 1) * stride - 2 * pad + filter_size
