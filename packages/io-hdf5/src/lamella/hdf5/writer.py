"""``model.save`` and ``model.save_weights`` in Keras 1.2.2's HDF5 layout."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

import h5py
import numpy as np
import torch

from lamella.engine.serialization import KERAS_VERSION, model_to_dict
from lamella.hdf5 import optimizer_state
from lamella.hdf5.layout import ATTRIBUTE_LIMIT, BACKEND, weight_layers, weight_name
from lamella.hdf5.training import training_config
from lamella.utils import atomic

#: The HDF5 1.8 file format: what Keras 1's h5py read, and the oldest that stores
#: attributes over 64 KiB (the model_config of a large model).
LIBVER = ("v108", "v108")


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Architecture, weights, training configuration and optimizer state, in one file."""
    document = model_to_dict(model)
    model_config = _json({"class_name": document["class_name"], "config": document["config"]})
    training = training_config(model)
    training_json = None if training is None else _json(training)
    names, state = ([], []) if training is None else optimizer_state.saved_state(model)
    texts = [model_config] if training_json is None else [model_config, training_json]
    size = _size_bound(model, texts, state)
    with atomic.replacing(filepath, overwrite) as temp, _created(temp, filepath, size) as f:
        f.attrs["keras_version"] = np.bytes_(KERAS_VERSION)
        f.attrs["backend"] = np.bytes_(BACKEND)
        f.attrs["model_config"] = model_config
        write_layers(f.create_group("model_weights"), model)
        if training_json is not None:
            f.attrs["training_config"] = training_json
        if state:  # Keras writes the group only for an optimizer with state
            write_arrays(f.create_group("optimizer_weights"), names, state)


def save_weights(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Only the weights: the per-layer groups at the root, with ``layer_names``."""
    size = _size_bound(model, [], [])
    with atomic.replacing(filepath, overwrite) as temp, _created(temp, filepath, size) as f:
        write_layers(f, model)


#: Bytes of HDF5 headers per file and per dataset, rounded up from measured files (about
#: 4 KiB and 1 KiB): with the arrays and texts, a bound on what a save writes.
HEADER_BYTES = 16 * 1024
DATASET_HEADER_BYTES = 2 * 1024


def _size_bound(model: Any, texts: Sequence[bytes], arrays: Sequence[np.ndarray]) -> int:
    """More than the bytes a save of ``model`` writes (a bound, not a prediction)."""
    weights = [w for layer in weight_layers(model) for w in layer.weights]
    data = sum(w.numel() * w.element_size() for w in weights)
    data += sum(np.asarray(a).nbytes for a in arrays) + sum(len(t) for t in texts)
    return data + HEADER_BYTES + DATASET_HEADER_BYTES * (len(weights) + len(arrays))


def _check_size_limit(filepath: str | os.PathLike[str], size: int) -> None:
    """Refuse a file that may not fit under the process's file-size limit (``ulimit -f``)
    before writing: met while HDF5 writes its headers on close, the limit crashes the
    process (HDF5 2.0), and by default the kernel ends a process that passes it."""
    try:
        import resource
    except ImportError:  # not on POSIX: no such limit
        return
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and size > limit:
        raise OSError(
            errno.EFBIG,
            f"Cannot save the HDF5 file: it may take up to {size} bytes, over this "
            f"process's file-size limit of {limit} bytes (ulimit -f)",
            os.fspath(filepath),
        )


@contextlib.contextmanager
def _created(temp: str, filepath: str | os.PathLike[str], size: int) -> Iterator[h5py.File]:
    """A new HDF5 file of at most ``size`` bytes whose write failures come out as an
    OSError naming ``filepath``.

    h5py reports a failure met while closing (a full disk) as a RuntimeError, raised
    over the write's own OSError and naming the temporary file.
    """
    _check_size_limit(filepath, size)
    f = h5py.File(temp, "w", libver=LIBVER)
    try:
        yield f
    except BaseException as error:
        with contextlib.suppress(Exception):
            f.close()
        explained = _os_error(error, filepath)
        if explained is None:
            raise
        raise explained from error
    try:
        f.close()
    except RuntimeError as error:
        explained = _os_error(error, filepath)
        if explained is None:
            raise
        raise explained from error


def _os_error(error: BaseException, filepath: str | os.PathLike[str]) -> OSError | None:
    """The OSError for a failed write that carries or quotes (``errno = N``) an errno."""
    if not isinstance(error, (OSError, RuntimeError)):
        return None
    code = getattr(error, "errno", None)
    if not code:
        found = re.search(r"errno = (\d+)", str(error))
        code = int(found.group(1)) if found else 0
    if not code:
        return None
    return OSError(code, f"Cannot save the HDF5 file: {os.strerror(code)}", os.fspath(filepath))


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
