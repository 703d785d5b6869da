"""``load_model`` and ``load_weights`` for Keras HDF5 files, through the checks of safety.py.

Loads files written by lamella, by Keras 1.2.2, and by Keras 2 and 3 (converted by the
keras2 package).  Weights are paired with layers first (by order or by name), counts
and declared shapes are compared before any value is read, every value is read,
converted (byte order, dtype) and checked, and only then is anything assigned: a
failed load leaves the model as it was.  ``load_model`` counts the weights the file's
config declares (on torch's meta device, allocating nothing) before building the
model, so a small file cannot declare a huge one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import torch

from lamella.engine.serialization import declared_weights, model_from_config
from lamella.hdf5 import keras2
from lamella.hdf5.layout import short_name, weight_layers, weight_name
from lamella.hdf5.safety import (
    UnsafeFileError,
    check_reads,
    dataset_of,
    open_checked,
    read_dataset,
    read_json,
    read_names,
    read_text,
    refuse_code,
)
from lamella.hdf5.training import restore_training
from lamella.utils.layer_utils import convert_layer_kernels
from lamella.utils.messages import quoted

#: A file's config may declare up to twice the weight values its datasets hold, plus this
#: many (buffers such as recurrent states are not saved; Keras 2 files may leave a
#: BatchNormalization's scale out).
WEIGHT_SLACK = 1 << 20


@dataclass(frozen=True)
class SavedLayer:
    """One layer's group in a file: its name, its weights' names and datasets (not read
    yet), and what the file says wrote it (Keras 2/3 names and layouts; Theano's flipped
    kernels)."""

    name: str
    weight_names: list[str]
    datasets: list[h5py.Dataset]
    keras2: bool = False
    theano: bool = False


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
    theano_kernels: bool = False,
) -> Any:
    """The model saved by ``model.save``, compiled and with its optimizer state if it was.

    ``theano_kernels=True`` says the file's convolution kernels were trained with Theano
    (which flips them): they are flipped for torch's correlation as they load.
    """
    if not isinstance(safe_mode, bool):
        raise TypeError(f"safe_mode must be True or False, got {safe_mode!r}")
    path = os.fspath(filepath)
    with open_checked(path) as f:
        config = read_json(f, "model_config", path)
        if config is None:
            raise ValueError(
                f"{path!r} holds no model (no 'model_config' attribute); if it is a weights "
                "file, build the model in Python and call model.load_weights"
            )
        refuse_code(config, safe_mode, path)
        if not isinstance(config, dict):
            raise UnsafeFileError(f"{path!r}: model_config must be a JSON object")
        saved = saved_layers(_weights_group(f, path), path, theano_kernels)
        held = sum(dataset.size for layer in saved for dataset in layer.datasets)
        try:
            version, backend = _origin(f, path)
            if keras2.is_keras2(version):
                config = keras2.model_config(config, version)
            declared = declared_weights(config, custom_objects, safe_mode)
            if declared is None or declared <= 2 * held + WEIGHT_SLACK:
                model = model_from_config(config, custom_objects, safe_mode, max_params=None)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path!r}: cannot rebuild the model from its config: {exc}") from exc
        if declared is not None and declared > 2 * held + WEIGHT_SLACK:
            raise UnsafeFileError(
                f"{path!r}: its model_config declares {declared:,} weight values, but the "
                f"file's weights hold {held:,}; the model was not built"
            )
        _assign(_values(_pairs_by_order(model, saved, path), path))
        if not compile:
            return model
        training = read_json(f, "training_config", path)
        if training is None:
            warnings.warn(
                f"{path!r} holds no training configuration: the model was NOT compiled. "
                "Compile it yourself.",
                stacklevel=3,
            )
            return model
        names, state = _optimizer_state(f, path)
        restore_training(model, training, state, custom_objects, path, names, backend)
    return model


def load_weights(
    model: Any,
    filepath: str | os.PathLike[str],
    by_name: bool = False,
    theano_kernels: bool = False,
) -> None:
    """Weights from a weights file or a whole-model file, by layer order or by layer name.

    By order, the i-th layer with weights in the file goes to the i-th layer with
    weights in the model.  By name, each layer takes the group of its own name;
    layers the file does not name keep their weights.  ``theano_kernels=True`` flips
    the convolution kernels the file holds, as for :func:`load_model`.
    """
    path = os.fspath(filepath)
    with open_checked(path) as f:
        saved = saved_layers(_weights_group(f, path), path, theano_kernels)
        if by_name:
            groups = {group.name: group for group in saved}
            pairs = [
                (layer, groups[layer.name])
                for layer in weight_layers(model)
                if layer.name in groups
            ]
        else:
            pairs = _pairs_by_order(model, saved, path)
        values = _values(pairs, path)
    _assign(values)


def _weights_group(f: h5py.File, filepath: str) -> h5py.Group:
    """The group holding ``layer_names``: the root of a weights file, else ``/model_weights``."""
    if read_names(f, "layer_names", filepath) is not None:
        return f
    group = f.get("model_weights")
    if not isinstance(group, h5py.Group):
        raise ValueError(
            f"{filepath!r} holds no weights: neither a 'layer_names' attribute nor a "
            "'model_weights' group"
        )
    return group


def _origin(group: h5py.Group, filepath: str) -> tuple[str | None, str | None]:
    """``keras_version`` and ``backend``: Keras 2 writes them on the weights group,
    Keras 3 (and lamella) at the root too; a Keras 1 file has neither (§4.6)."""
    version = read_text(group, "keras_version", filepath)
    backend = read_text(group, "backend", filepath)
    root = group.file
    return (
        version or read_text(root, "keras_version", filepath),
        backend or read_text(root, "backend", filepath),
    )


def saved_layers(
    group: h5py.Group, filepath: str, theano_kernels: bool = False
) -> list[SavedLayer]:
    """Every layer group listed by ``layer_names``, in that order, with its datasets; what
    reading them all would cost is bounded here, before any is read.

    Kernels are Theano's (flipped) where the file's ``backend`` says ``theano`` or the
    caller says so (``theano_kernels``): Keras 1 files do not tell.
    """
    version, backend = _origin(group, filepath)
    newer, theano = keras2.is_keras2(version), theano_kernels or backend == "theano"
    names = read_names(group, "layer_names", filepath)
    if names is None:
        raise ValueError(f"{filepath!r}: {group.name} has no 'layer_names' attribute")
    found = []
    for name in names:
        layer_group = group.get(name)
        if not isinstance(layer_group, h5py.Group):
            raise ValueError(
                f"{filepath!r}: layer_names lists {quoted(name)}, but {group.name} has no such "
                "group"
            )
        weight_names = read_names(layer_group, "weight_names", filepath)
        if weight_names is None:
            raise ValueError(f"{filepath!r}: {layer_group.name} has no 'weight_names' attribute")
        datasets = [dataset_of(layer_group, weight, filepath) for weight in weight_names]
        found.append(SavedLayer(name, weight_names, datasets, newer, theano))
    check_reads(
        [dataset for layer in found for dataset in layer.datasets],
        filepath,
        f"loading the weights of {group.name}",
    )
    return found


def _pairs_by_order(
    model: Any, saved: list[SavedLayer], filepath: str
) -> list[tuple[Any, SavedLayer]]:
    layers = [layer for layer in weight_layers(model) if layer.weights]
    groups = [layer for layer in saved if layer.datasets]
    if len(layers) != len(groups):
        raise ValueError(
            f"{filepath!r} holds weights for {len(groups)} layers "
            f"({quoted([g.name for g in groups])}), but model {model.name!r} has {len(layers)} "
            f"layers with weights ({quoted([layer.name for layer in layers])}); "
            "load_weights(by_name=True) pairs layers by name instead"
        )
    return list(zip(layers, groups, strict=True))


def _describe_layer(layer: Any, filepath: str) -> str:
    return f"{filepath!r}: layer {layer.name!r} ({type(layer).__name__})"


def _order(layer: Any, saved: SavedLayer, filepath: str) -> list[int] | None:
    """For each of ``layer.weights``, the index of its saved dataset: by name where the
    names agree (``'dense_1_W:0'`` and ``'dense_3_W'`` are both ``W``), else by position.

    Counts and declared shapes are checked here, before anything is read.  None for a
    Keras 2/3 file, whose arrays change shape when converted after reading.
    """
    if saved.keras2:  # Keras 2 LSTM: 3 arrays for 12 weights
        return None
    targets = layer.weights
    if len(targets) != len(saved.datasets):
        raise ValueError(
            f"{_describe_layer(layer, filepath)} has {len(targets)} weights, but the file's "
            f"group {quoted(saved.name)} holds {len(saved.datasets)} "
            f"({quoted(saved.weight_names)})"
        )
    own = [short_name(weight_name(w, i), layer.name) for i, w in enumerate(targets)]
    theirs = [short_name(name, saved.name) for name in saved.weight_names]
    order = list(range(len(targets)))
    if len(set(own)) == len(own) and set(own) == set(theirs):
        position = {name: index for index, name in enumerate(theirs)}
        order = [position[name] for name in own]
    for target, name, index in zip(targets, own, order, strict=True):
        _check_shape(layer, saved, name, tuple(target.shape), saved.datasets[index].shape, filepath)
    return order


def _check_shape(
    layer: Any, saved: SavedLayer, name: str, wanted: tuple, held: tuple, filepath: str
) -> None:
    if wanted != tuple(held):
        raise ValueError(
            f"{_describe_layer(layer, filepath)}: weight {name!r} has shape {wanted}, but the "
            f"file's group {quoted(saved.name)} holds shape {tuple(held)}"
        )


def _arranged(
    layer: Any, saved: SavedLayer, order: list[int] | None, filepath: str
) -> list[np.ndarray]:
    """The saved arrays, read, in the order of ``layer.weights`` (see :func:`_order`)."""
    arrays = [read_dataset(dataset, filepath) for dataset in saved.datasets]
    own = [short_name(weight_name(w, i), layer.name) for i, w in enumerate(layer.weights)]
    if order is not None:
        arrays = [arrays[index] for index in order]
        return convert_layer_kernels(layer, arrays) if saved.theano else arrays
    try:
        arrays = keras2.convert(layer, saved.weight_names, arrays, own, saved.theano)
    except ValueError as exc:
        raise ValueError(f"{filepath!r}: {exc}") from exc
    for target, name, array in zip(layer.weights, own, arrays, strict=True):
        _check_shape(layer, saved, name, tuple(target.shape), array.shape, filepath)
    return arrays


def _values(
    pairs: list[tuple[Any, SavedLayer]], filepath: str
) -> list[tuple[Any, list[torch.Tensor]]]:
    """Every pair's values, ready to copy: counts and declared shapes of all pairs are
    checked first, then each array is read, converted to its weight's dtype and checked.
    Nothing is assigned here, so any error leaves the model as it was."""
    orders = [_order(layer, saved, filepath) for layer, saved in pairs]
    values = []
    for (layer, saved), order in zip(pairs, orders, strict=True):
        arrays = _arranged(layer, saved, order, filepath)
        tensors = [
            _converted(layer, target, array, filepath)
            for target, array in zip(layer.weights, arrays, strict=True)
        ]
        values.append((layer, tensors))
    return values


def _converted(layer: Any, target: torch.Tensor, array: np.ndarray, filepath: str) -> torch.Tensor:
    """``array`` as a CPU tensor of ``target``'s dtype (numpy converts what torch cannot
    take, such as long double)."""
    try:
        try:
            tensor = torch.as_tensor(array)
        except TypeError:
            tensor = torch.as_tensor(
                array.astype(np.float64 if array.dtype.kind == "f" else np.int64)
            )
        return tensor.to(target.dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{_describe_layer(layer, filepath)}: cannot convert the file's {array.dtype} "
            f"values to {target.dtype} ({exc})"
        ) from exc


def _assign(values: list[tuple[Any, list[torch.Tensor]]]) -> None:
    """Copy into ``layer.weights`` directly, as Keras did: a nested model's
    ``set_weights`` would expect its layers' order instead of this one."""
    with torch.no_grad():
        for layer, tensors in values:
            for target, tensor in zip(layer.weights, tensors, strict=True):
                target.copy_(tensor)


def _optimizer_state(f: h5py.File, filepath: str) -> tuple[list[str], list[np.ndarray]]:
    """The names and arrays of ``/optimizer_weights``, in the order ``weight_names`` gives."""
    group = f.get("optimizer_weights")
    if group is None:
        return [], []
    if not isinstance(group, h5py.Group):
        raise UnsafeFileError(f"{filepath!r}: optimizer_weights must be a group")
    names = read_names(group, "weight_names", filepath) or []
    datasets = [dataset_of(group, name, filepath) for name in names]
    check_reads(datasets, filepath, "loading the optimizer state")
    return names, [read_dataset(dataset, filepath) for dataset in datasets]
