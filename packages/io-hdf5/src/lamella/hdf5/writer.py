"""``model.save`` and ``model.save_weights`` in Keras 1.2.2's HDF5 layout (keras1-api.md §4)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
import torch

from lamella.engine.serialization import KERAS_VERSION, model_to_dict
from lamella.hdf5 import atomic
from lamella.hdf5.layout import ATTRIBUTE_LIMIT, BACKEND, weight_layers, weight_name
from lamella.hdf5.training import training_config

#: The HDF5 1.8 file format: what Keras 1's h5py read, and the oldest that stores
#: attributes over 64 KiB (the model_config of a large model).
LIBVER = ("v108", "v108")


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Architecture, weights, training configuration and optimizer state, in one file."""
    document = model_to_dict(model)
    model_config = _json({"class_name": document["class_name"], "config": document["config"]})
    training = training_config(model)
    training_json = None if training is None else _json(training)
    state = [] if training is None else model.optimizer.get_weights()
    with atomic.replacing(filepath, overwrite) as temp, h5py.File(temp, "w", libver=LIBVER) as f:
        f.attrs["keras_version"] = np.bytes_(KERAS_VERSION)
        f.attrs["backend"] = np.bytes_(BACKEND)
        f.attrs["model_config"] = model_config
        write_layers(f.create_group("model_weights"), model)
        if training_json is not None:
            f.attrs["training_config"] = training_json
        if state:  # Keras writes the group only for an optimizer with state
            names = [f"param_{i}" for i in range(len(state))]  # Theano's names
            write_arrays(f.create_group("optimizer_weights"), names, state)


def save_weights(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Only the weights: the per-layer groups at the root, with ``layer_names``."""
    with atomic.replacing(filepath, overwrite) as temp, h5py.File(temp, "w", libver=LIBVER) as f:
        write_layers(f, model)


def write_layers(group: h5py.Group, model: Any) -> None:
    """One group per layer in Keras's order, listed by the ``layer_names`` attribute."""
    layers = weight_layers(model)
    write_names(group, "layer_names", [layer.name for layer in layers])
    for layer in layers:
        names = [weight_name(w, i) for i, w in enumerate(layer.weights)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Cannot save layer {layer.name!r} ({type(layer).__name__}): several of its "
                f"weights are named {duplicates}; rename the layers inside it"
            )
        values = [w.detach().cpu().numpy() for w in layer.weights]  # a nested model's
        write_arrays(group.create_group(layer.name), names, values)  # get_weights differs


def write_arrays(group: h5py.Group, names: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
    """Datasets named ``names`` and the ``weight_names`` attribute that orders them."""
    write_names(group, "weight_names", names)
    for name, array in zip(names, arrays, strict=True):
        group.create_dataset(name, data=np.asarray(array))


def write_names(obj: h5py.HLObject, key: str, names: Sequence[str]) -> None:
    """A list of names as an array of bytes, split into ``key0, key1 ...`` past 64 KiB."""
    data = np.array([name.encode("utf-8") for name in names], dtype="S")
    if data.nbytes <= ATTRIBUTE_LIMIT:
        obj.attrs[key] = data
        return
    if data.itemsize > ATTRIBUTE_LIMIT:
        raise ValueError(f"Cannot save a name longer than {ATTRIBUTE_LIMIT} bytes in {key!r}")
    per_chunk = ATTRIBUTE_LIMIT // data.itemsize
    for index, start in enumerate(range(0, len(data), per_chunk)):
        obj.attrs[f"{key}{index}"] = data[start : start + per_chunk]


def _plain(value: Any) -> Any:
    """JSON for what configs may hold besides plain data; functions by their name, as Keras."""
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)):
        return value.tolist()
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    raise TypeError(f"Cannot save {value!r} ({type(value).__name__}) in the file's JSON")


def _json(document: Any) -> np.bytes_:
    return np.bytes_(json.dumps(document, default=_plain).encode("utf-8"))
