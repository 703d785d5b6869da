"""``load_model`` and ``load_weights`` for Keras HDF5 files, through the checks of safety.py.

Loads files written by lamella, by Keras 1.2.2, and by Keras 2 and 3 (converted by the
keras2 package).  Weights are paired with layers first (by order or by name), every
pair is checked, and only then is anything assigned: a failed load leaves the model as
it was.
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

from lamella.engine.serialization import model_from_config
from lamella.hdf5 import keras2
from lamella.hdf5.layout import short_name, weight_layers, weight_name
from lamella.hdf5.safety import (
    UnsafeFileError,
    open_checked,
    read_array,
    read_json,
    read_names,
    read_text,
    refuse_code,
)
from lamella.hdf5.training import restore_training


@dataclass(frozen=True)
class SavedLayer:
    """One layer's group in a file: its name, its weights' names and their values, and
    what the file says wrote it (Keras 2/3 names and layouts; Theano's flipped kernels)."""

    name: str
    weight_names: list[str]
    arrays: list[np.ndarray]
    keras2: bool = False
    theano: bool = False


def load_model(
    filepath: str | os.PathLike[str],
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Any:
    """The model saved by ``model.save``, compiled and with its optimizer state if it was."""
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
        try:
            version = _origin(f, path)[0]
            if keras2.is_keras2(version):
                config = keras2.model_config(config, version)
            model = model_from_config(config, custom_objects, safe_mode)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path!r}: cannot rebuild the model from its config: {exc}") from exc
        saved = saved_layers(_weights_group(f, path), path)
        _assign(_pairs_by_order(model, saved, path), path)
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
        restore_training(model, training, _optimizer_state(f, path), custom_objects, path)
    return model


def load_weights(model: Any, filepath: str | os.PathLike[str], by_name: bool = False) -> None:
    """Weights from a weights file or a whole-model file, by layer order or by layer name.

    By order, the i-th layer with weights in the file goes to the i-th layer with
    weights in the model.  By name, each layer takes the group of its own name;
    layers the file does not name keep their weights.
    """
    path = os.fspath(filepath)
    with open_checked(path) as f:
        saved = saved_layers(_weights_group(f, path), path)
    if by_name:
        groups = {group.name: group for group in saved}
        pairs = [
            (layer, groups[layer.name]) for layer in weight_layers(model) if layer.name in groups
        ]
    else:
        pairs = _pairs_by_order(model, saved, path)
    _assign(pairs, path)


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


def saved_layers(group: h5py.Group, filepath: str) -> list[SavedLayer]:
    """Every layer group listed by ``layer_names``, in that order, with its arrays."""
    version, backend = _origin(group, filepath)
    newer, theano = keras2.is_keras2(version), backend == "theano"
    names = read_names(group, "layer_names", filepath)
    if names is None:
        raise ValueError(f"{filepath!r}: {group.name} has no 'layer_names' attribute")
    found = []
    for name in names:
        layer_group = group.get(name)
        if not isinstance(layer_group, h5py.Group):
            raise ValueError(
                f"{filepath!r}: layer_names lists {name!r}, but {group.name} has no such group"
            )
        weight_names = read_names(layer_group, "weight_names", filepath)
        if weight_names is None:
            raise ValueError(f"{filepath!r}: {layer_group.name} has no 'weight_names' attribute")
        arrays = [read_array(layer_group, weight, filepath) for weight in weight_names]
        found.append(SavedLayer(name, weight_names, arrays, newer, theano))
    return found


def _pairs_by_order(
    model: Any, saved: list[SavedLayer], filepath: str
) -> list[tuple[Any, SavedLayer]]:
    layers = [layer for layer in weight_layers(model) if layer.weights]
    groups = [layer for layer in saved if layer.arrays]
    if len(layers) != len(groups):
        raise ValueError(
            f"{filepath!r} holds weights for {len(groups)} layers "
            f"({[g.name for g in groups]}), but model {model.name!r} has {len(layers)} layers "
            f"with weights ({[layer.name for layer in layers]}); load_weights(by_name=True) "
            "pairs layers by name instead"
        )
    return list(zip(layers, groups, strict=True))


def _arranged(layer: Any, saved: SavedLayer, filepath: str) -> list[np.ndarray]:
    """The saved arrays in the order of ``layer.weights``: by name where the names
    agree (``'dense_1_W:0'`` and ``'dense_3_W'`` are both ``W``), else by position."""
    targets = layer.weights
    what = f"{filepath!r}: layer {layer.name!r} ({type(layer).__name__})"
    if len(targets) != len(saved.arrays) and not saved.keras2:  # Keras 2 LSTM: 3 for 12
        raise ValueError(
            f"{what} has {len(targets)} weights, but the file's group {saved.name!r} holds "
            f"{len(saved.arrays)} ({saved.weight_names})"
        )
    own = [short_name(weight_name(w, i), layer.name) for i, w in enumerate(targets)]
    theirs = [short_name(name, saved.name) for name in saved.weight_names]
    arrays = saved.arrays
    if saved.keras2:
        try:
            arrays = keras2.convert(layer, saved.weight_names, arrays, own, saved.theano)
        except ValueError as exc:
            raise ValueError(f"{filepath!r}: {exc}") from exc
    elif len(set(own)) == len(own) and set(own) == set(theirs):
        by_name = dict(zip(theirs, saved.arrays, strict=True))
        arrays = [by_name[name] for name in own]
    if saved.theano and not saved.keras2:
        arrays = [_unflipped(layer, name, array) for name, array in zip(own, arrays, strict=True)]
    for target, name, array in zip(targets, own, arrays, strict=True):
        if tuple(target.shape) != array.shape:
            raise ValueError(
                f"{what}: weight {name!r} has shape {tuple(target.shape)}, but the file's "
                f"group {saved.name!r} holds shape {array.shape}"
            )
    return arrays


def _unflipped(layer: Any, name: str, array: np.ndarray) -> np.ndarray:
    """A Keras 1 convolution kernel saved under Theano, flipped for torch's correlation."""
    if name != "W" or array.ndim < 3 or not hasattr(layer, "nb_filter"):
        return array
    return keras2.flip(array, keras2.keras1_spatial_axes(layer, array))


def _assign(pairs: list[tuple[Any, SavedLayer]], filepath: str) -> None:
    """Check every pair, then copy into ``layer.weights`` directly, as Keras did: a nested
    model's ``set_weights`` would expect its layers' order instead of this one."""
    arranged = [(layer, _arranged(layer, saved, filepath)) for layer, saved in pairs]
    with torch.no_grad():
        for layer, arrays in arranged:
            for target, array in zip(layer.weights, arrays, strict=True):
                target.copy_(torch.as_tensor(array, dtype=target.dtype))


def _optimizer_state(f: h5py.File, filepath: str) -> list[np.ndarray]:
    """The arrays of ``/optimizer_weights`` in the order its ``weight_names`` give."""
    group = f.get("optimizer_weights")
    if group is None:
        return []
    if not isinstance(group, h5py.Group):
        raise UnsafeFileError(f"{filepath!r}: optimizer_weights must be a group")
    names = read_names(group, "weight_names", filepath) or []
    return [read_array(group, name, filepath) for name in names]
