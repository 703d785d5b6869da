"""Turning what users pass to ``fit``/``predict`` into checked tensors on the device.

Arrays are converted and moved once per call; batches are then index slices of
those tensors.  Every check runs before training starts, so bad input costs an
error message, never a half-trained model.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella.backend.config import torch_dtype
from lamella.utils.messages import quoted

Shape = tuple[int | None, ...]


def as_list(data: Any, names: Sequence[str], what: str, allow_none: bool = False) -> list[Any]:
    """One entry per model input/output, from an array, a list, or a dict by name."""
    if data is None:
        if allow_none:
            return [None] * len(names)
        raise ValueError(f"Missing {what} data: the model expects {len(names)} array(s)")
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(
                f"No data provided for {what} {missing}; the dict has keys {sorted(data)} "
                f"and the model's {what}s are {list(names)}"
            )
        return [data[n] for n in names]
    if len(names) > 1:
        if not isinstance(data, (list, tuple)):
            raise ValueError(
                f"The model has {len(names)} {what}s ({list(names)}), but got one "
                f"{type(data).__name__}{_shape_of(data)}; pass a list of {len(names)} arrays "
                "in that order, or a dict by name"
            )
        if len(data) != len(names):
            raise ValueError(
                f"The model has {len(names)} {what}s ({list(names)}), but got a list of "
                f"{len(data)} arrays"
            )
        return list(data)
    if isinstance(data, (list, tuple)) and len(data) == 1 and _is_array_like(data[0]):
        return [data[0]]
    return [data]


def _shape_of(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f" of shape {tuple(shape)}" if shape is not None else ""


def _is_array_like(value: Any) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor)) or hasattr(value, "__array__")


def to_tensor(
    value: Any, name: str, dtype: str | torch.dtype | None, device: torch.device
) -> torch.Tensor:
    """A tensor of ``dtype`` on ``device``; numbers only, with an error naming ``name``."""
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        try:
            array = np.asarray(value)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(
                f"Data for {name} is ragged (sequences of different lengths): {exc}; pad it "
                "to one length first (lamella.preprocessing.sequence.pad_sequences)"
            ) from None
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
        ):
            raise TypeError(f"Data for {name} must be numeric, got an array of dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    tensor = tensor.to(dtype=torch_dtype(dtype))
    if device.type == "cuda" and tensor.device.type == "cpu":
        # Page-locked memory lets the copy run asynchronously, overlapping the GPU's work.
        tensor = tensor.pin_memory()
    return tensor.to(device=device, non_blocking=True)


def class_indices(value: Any, name: str, classes: int | None, device: torch.device) -> torch.Tensor:
    """Integer class labels as int64, checked once: whole numbers in ``[0, classes)``."""
    tensor = to_tensor(value, name, "float64", torch.device("cpu"))
    if tensor.numel():
        if not torch.equal(tensor, tensor.round()):
            raise ValueError(f"Data for {name} must hold whole class indices, got fractions")
        low, high = (int(v) for v in torch.aminmax(tensor))
        if low < 0 or (classes is not None and high >= classes):
            raise ValueError(
                f"Data for {name} holds class indices from {low} to {high}, but the output "
                f"has {classes} classes (valid indices 0 to {(classes or 1) - 1})"
            )
    return tensor.to(device=device, dtype=torch.long)


def column(tensor: torch.Tensor) -> torch.Tensor:
    """Keras 1 reads a 1-D array of n values as n samples of one feature: shape (n, 1)."""
    return tensor.unsqueeze(1) if tensor.dim() == 1 else tensor


def check_shapes(
    tensors: Sequence[torch.Tensor], names: Sequence[str], shapes: Sequence[Shape], what: str
) -> None:
    """Each array must have the rank of its input and agree on every known axis."""
    for tensor, name, shape in zip(tensors, names, shapes, strict=True):
        if tensor.dim() != len(shape):
            raise ValueError(
                f"Error when checking model {what}: expected {name} to have {len(shape)} "
                f"dimensions (shape {shape}), but got an array with shape {tuple(tensor.shape)}"
            )
        for expected, got in zip(shape[1:], tensor.shape[1:], strict=True):
            if expected is not None and expected != got:
                raise ValueError(
                    f"Error when checking model {what}: expected {name} to have shape "
                    f"{shape}, but got an array with shape {tuple(tensor.shape)}"
                )


def check_lengths(groups: Mapping[str, Sequence[torch.Tensor | None]]) -> int:
    """All arrays must hold the same number of samples; returns that number."""
    counts = {
        f"{what} {i}": int(t.shape[0])
        for what, tensors in groups.items()
        for i, t in enumerate(tensors)
        if t is not None
    }
    distinct = set(counts.values())
    if len(distinct) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise ValueError(
            f"All input, target and sample-weight arrays must have the same number of "
            f"samples; got {listed}"
        )
    return distinct.pop() if distinct else 0


def split_tail(
    tensors: Sequence[torch.Tensor | None], fraction: float
) -> tuple[list[Any], list[Any]]:
    """Keras's validation_split: the last ``fraction`` of the samples, before shuffling."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
    count = next(int(t.shape[0]) for t in tensors if t is not None)
    at = int(count * (1.0 - fraction))
    head = [t[:at] if t is not None else None for t in tensors]
    tail = [t[at:] if t is not None else None for t in tensors]
    return head, tail


def class_weights_to_samples(
    target: torch.Tensor,
    class_weight: Mapping[Any, float],
    classes: int | None = None,
    name: str = "the targets",
    sparse: bool = False,
) -> torch.Tensor:
    """Per-sample weights from ``{class: weight}``: classes by argmax of one-hot targets, or
    the indices themselves (``sparse``); a sample's timesteps are averaged.

    Every class in ``target`` needs a weight, as in Keras 1 (a default would hide a
    typo); a key that is not a class index in ``[0, classes)`` is refused, never read
    as Python's negative index from the end.  ``classes`` is the output's class count
    where it is known (a one-hot target knows its own).
    """
    if sparse:
        labels = target.reshape(target.shape[0], -1).long()
    elif target.dim() >= 2 and target.shape[-1] > 1:
        labels, classes = target.argmax(-1), int(target.shape[-1])
    else:
        labels = target.reshape(target.shape[0], -1)[:, 0].round().long()
    table = _class_table(class_weight, classes)
    present = labels.unique().tolist()
    missing = [c for c in present if c not in table]
    if missing:
        raise ValueError(
            f"class_weight has no weight for the classes {missing} found in {name}; it "
            f"gives weights for {sorted(table)}"
        )
    lookup = torch.zeros(int(max(present[-1] if present else 0, *table)) + 1)
    for cls, weight in table.items():
        lookup[cls] = weight
    weights = lookup.to(target.device)[labels]
    return weights.reshape(weights.shape[0], -1).mean(-1) if weights.dim() > 1 else weights


def _class_table(class_weight: Mapping[Any, float], classes: int | None) -> dict[int, float]:
    """``class_weight`` with its keys checked as class indices."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            "class_weight must be a dict {class index: weight}, got "
            f"{type(class_weight).__name__}"
        )
    expected = (
        f"the output has {classes} classes, numbered 0 to {classes - 1}"
        if classes is not None
        else "class indices are whole numbers from 0"
    )
    table: dict[int, float] = {}
    for key, weight in class_weight.items():
        whole = isinstance(key, numbers.Integral) or (isinstance(key, float) and key.is_integer())
        if not whole or key < 0 or (classes is not None and key >= classes):
            raise ValueError(f"class_weight: {quoted(key)} is not a class index: {expected}")
        table[int(key)] = float(weight)
    return table
