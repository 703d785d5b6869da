"""Keras 2/3 weight arrays in the order and layout of lamella's (Keras 1) weights.

Arrays are matched by the target lamella layer's own weight names, so ``load_model``
and ``load_weights`` of a weights-only file share one path: names are mapped, fused
gate kernels split, convolution kernels re-oriented.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from lamella.engine.container import Container
from lamella.hdf5.layout import short_name, weight_layers, weight_name

#: The gate order of Keras 2/3 kernels, by the set of gate suffixes the target layer has.
GATE_ORDERS = {frozenset("icfo"): "ifco", frozenset("zrh"): "zrh"}

#: Keras 2/3 weight name -> Keras 1 weight name.
WEIGHT_NAMES = {
    "kernel": "W",
    "recurrent_kernel": "U",
    "bias": "b",
    "embeddings": "W",
    "moving_mean": "running_mean",
    "moving_variance": "running_std",
    "alpha": "alphas",
}

#: Keras 2/3 weights that are convolution kernels (spatial..., in, out), re-oriented for
#: 'th' layers; only ``kernel`` is flipped for Theano files, as Keras 2 does.
KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel")

#: Target classes whose kernels Keras 2/3 keep in Keras 1's layout (no re-orienting).
SAME_LAYOUT = ("LocallyConnected1D", "LocallyConnected2D")

_TF_SUFFIX = re.compile(r":\d+$")


def weight_key(name: str) -> tuple[str, str]:
    """``'bidirectional/forward_lstm/lstm_cell/kernel:0'`` -> ``('forward_', 'kernel')``:
    the variable's last path part, and the direction inside a Bidirectional."""
    parts = _path(name)
    direction = next((d for d in ("forward_", "backward_") for p in parts if p.startswith(d)), "")
    return direction, parts[-1]


def convert(
    layer: Any, names: list[str], arrays: list[np.ndarray], own: list[str], theano: bool
) -> list[np.ndarray]:
    """A Keras 2/3 layer's arrays in the order and layout of ``layer``'s weights
    (named ``own``): kernels re-oriented, gates split, names mapped (§4.5-4.6)."""
    if isinstance(layer, Container):
        return _nested(layer, names, arrays, theano)
    available: dict[tuple[str, str], np.ndarray] = {}
    # GRU(reset_after=True) has a recurrent bias, ``bU_<gate>`` among lamella's weights and
    # row 1 of the file's ``bias (2, 3n)`` (row 0 is the input bias).
    recurrent_bias = any(re.search(r"(^|_)bU_[a-z]$", n) for n in own)
    recurrent = any(weight_key(name)[1] == "recurrent_kernel" for name in names)
    for name, array in zip(names, arrays, strict=True):
        direction, key = weight_key(name)
        if recurrent and key == "bias" and (array.ndim == 2) != recurrent_bias:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}): the file's bias has shape "
                f"{array.shape}, a GRU with reset_after={array.ndim == 2}, but the layer has "
                f"reset_after={recurrent_bias}, a different function"
            )
        if recurrent and key == "bias" and array.ndim == 2:
            available[direction, "b"], available[direction, "bU"] = array[0], array[1]
            continue
        if key in KERNELS:  # TimeDistributed's kernel is its layer's
            array = _kernel(getattr(layer, "layer", layer), array, theano and key == "kernel")
        available[direction, WEIGHT_NAMES.get(key, key)] = array
    gates = frozenset(n.rsplit("_", 1)[1] for n in own if re.search(r"(^|_)[WUb]_[a-z]$", n))
    if gates in GATE_ORDERS:
        order = GATE_ORDERS[gates]
        for (direction, key), array in list(available.items()):
            if key in ("W", "U", "b", "bU"):
                for gate, block in zip(order, np.split(array, len(order), axis=-1), strict=True):
                    available[direction, f"{key}_{gate}"] = block
    result = []
    for name in own:
        direction = next((d for d in ("forward_", "backward_") if name.startswith(d)), "")
        match = [
            array
            for (d, key), array in available.items()
            if d == direction and (name == direction + key or name.endswith(f"_{key}"))
        ]
        if len(match) != 1:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}): no single weight of the "
                f"file's {names} matches its weight {name!r}"
            )
        result.append(match[0])
    return result


def _nested(
    layer: Any, names: list[str], arrays: list[np.ndarray], theano: bool
) -> list[np.ndarray]:
    """A model nested in the model as one layer: its file group holds all its layers'
    arrays, told apart by the layer name in their paths (``inner/dense_2/kernel``).

    Each layer's arrays are converted for its own weights, then written into copies of
    the model's weights, which a layer's weights may be views of (an LSTM's per-gate
    ``W_i`` of its fused Parameter)."""
    scratch = {id(w): w.detach().clone() for w in layer.weights}
    for sub in weight_layers(layer):
        if not sub.weights:
            continue
        mine = [i for i, name in enumerate(names) if sub.name in _path(name)[:-1]]
        own = [short_name(weight_name(w, i), sub.name) for i, w in enumerate(sub.weights)]
        values = convert(sub, [names[i] for i in mine], [arrays[i] for i in mine], own, theano)
        for weight, value in zip(sub.weights, values, strict=True):
            base = weight if id(weight) in scratch else weight._base
            if base is None or id(base) not in scratch or not base.is_contiguous():
                raise ValueError(
                    f"layer {layer.name!r}: weight {weight_name(weight, 0)!r} of its layer "
                    f"{sub.name!r} is not one of the model's weights, nor a view of one"
                )
            if tuple(weight.shape) != value.shape:
                raise ValueError(
                    f"layer {layer.name!r}: weight {weight_name(weight, 0)!r} of its layer "
                    f"{sub.name!r} has shape {tuple(weight.shape)}, but the file's array "
                    f"has shape {value.shape}"
                )
            offset = weight.storage_offset() - base.storage_offset()
            target = scratch[id(base)].as_strided(weight.shape, weight.stride(), offset)
            target.copy_(torch.as_tensor(np.ascontiguousarray(value)))
    return [scratch[id(w)].cpu().numpy() for w in layer.weights]


def _path(name: str) -> list[str]:
    return _TF_SUFFIX.sub("", name).split("/")


def _kernel(layer: Any, kernel: np.ndarray, theano: bool) -> np.ndarray:
    """A Keras 2/3 convolution kernel (spatial..., in, out) in the target's layout.

    Conv2DTranspose's is (rows, cols, out, in): Keras 1's Deconvolution2D has
    Convolution2D's layout with its input as the stack, (rows, cols, in, out) for 'tf'.
    """
    kind = type(layer).__name__
    if kernel.ndim < 3 or kind in SAME_LAYOUT:
        return kernel
    if kind == "Deconvolution2D":
        kernel = np.swapaxes(kernel, -1, -2)
    if theano:
        kernel = flip(kernel, range(kernel.ndim - 2))
    targets = [w for w in layer.weights if w.ndim == kernel.ndim + 1]
    if kernel.ndim == 3 and targets:  # Conv1D: Keras 1 keeps a dummy axis, (L, 1, in, out)
        return kernel[:, None]
    if getattr(layer, "dim_ordering", "tf") == "th":
        n = kernel.ndim
        return np.transpose(kernel, (n - 1, n - 2, *range(n - 2)))
    return kernel


def flip(kernel: np.ndarray, axes: Any) -> np.ndarray:
    """Theano's convolution flips the kernel; torch's (like TensorFlow's) does not."""
    return np.ascontiguousarray(np.flip(kernel, axis=tuple(axes)))
