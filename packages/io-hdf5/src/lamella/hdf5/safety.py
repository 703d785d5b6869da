"""Reading HDF5 files that may come from anyone (README: "Safety").

A file must be a regular file (a named pipe would block the reader forever); it is
opened read-only and walked once before any value is read: every link must be a
hard link (soft and external links can reach other files on the host), no dataset
may be virtual or keep its data in external files, and the datasets may not declare
far more bytes than the file could hold, each or all together (a "shape bomb" that
would exhaust memory when read).  The loaders then bound what they will read the same
way before reading it: a name listed twice, or many names linking to one compressed
dataset, cannot multiply it.  Attributes are read with their types checked, and JSON
is parsed with :mod:`json` only: nothing in a file is ever unpickled, imported or
executed.  Values from the file are quoted in errors through ``quoted`` (bounded).
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Any

import h5py
import numpy as np

from lamella.utils.messages import quoted

#: The datasets of a file, and what one load reads, may declare at most this many times
#: the file's size, plus SLACK bytes.  Keras never compresses, so honest files stay far
#: below it.
EXPANSION = 64
SLACK = 1 << 20

_LINK_KINDS = {h5py.h5l.TYPE_SOFT: "a soft link", h5py.h5l.TYPE_EXTERNAL: "an external link"}


class UnsafeFileError(ValueError):
    """The file holds something a model file never needs and that is unsafe to follow."""


def allowance(filepath: str) -> int:
    """The most bytes the datasets of ``filepath`` may declare, and one load may read."""
    return EXPANSION * os.path.getsize(filepath) + SLACK


def check_regular(filepath: str) -> None:
    """Refuse what is not a regular file: opening a named pipe waits for a writer forever,
    and a device can stream without end.  A missing file raises FileNotFoundError."""
    mode = os.stat(filepath).st_mode
    if not stat.S_ISREG(mode):
        raise OSError(
            f"Cannot read {filepath!r}: it is not a regular file (it is "
            f"{_FILE_KINDS.get(stat.S_IFMT(mode), 'a special file')}); model and weight "
            "files are regular files"
        )


_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


@contextlib.contextmanager
def open_checked(filepath: str) -> Iterator[h5py.File]:
    """The file opened read-only, after every object in it passed :func:`check_objects`."""
    check_regular(filepath)
    try:
        handle = h5py.File(filepath, "r")
    except OSError as exc:
        raise OSError(
            f"Cannot read {filepath!r}: it is not an HDF5 file, or it is truncated or "
            f"damaged ({exc})"
        ) from exc
    with handle:
        check_objects(handle, filepath, allowance(filepath))
        yield handle


def check_objects(root: h5py.File, filepath: str, max_bytes: int) -> None:
    """Refuse links other than hard links, virtual or external datasets, and shape bombs:
    a dataset, or all of them together, declaring more than ``max_bytes``."""
    seen: set[Any] = set()
    total = 0
    pending: list[h5py.Group] = [root]
    while pending:
        group = pending.pop()
        for name in group:
            where = f"{group.name.rstrip('/')}/{name}"
            kind = group.id.links.get_info(name.encode("utf-8")).type
            if kind != h5py.h5l.TYPE_HARD:
                raise UnsafeFileError(
                    f"{filepath!r}: {where} is {_LINK_KINDS.get(kind, 'a user-defined link')}; "
                    "model files hold none, and following one could read other files"
                )
            item = group[name]
            if item.id in seen:  # hard links may share (or loop back to) an object
                continue
            seen.add(item.id)
            if isinstance(item, h5py.Group):
                pending.append(item)
            elif isinstance(item, h5py.Dataset):
                total += _check_dataset(item, filepath, max_bytes)
    if total > max_bytes:
        raise UnsafeFileError(
            f"{filepath!r}: its datasets declare {total} bytes in all, more than a file of "
            f"{os.path.getsize(filepath)} bytes can hold"
        )


def check_reads(datasets: Iterable[h5py.Dataset], filepath: str, what: str) -> None:
    """Refuse a load that would read more than :func:`allowance` bytes: each name is read
    once, but many names may link to one small compressed dataset."""
    total = sum(declared_bytes(dataset) for dataset in datasets)
    limit = allowance(filepath)
    if total > limit:
        raise UnsafeFileError(
            f"{filepath!r}: {what} would read {total} bytes, more than a file of "
            f"{os.path.getsize(filepath)} bytes can hold (several names may link to one "
            "compressed dataset)"
        )


def declared_bytes(dataset: h5py.Dataset) -> int:
    return math.prod(dataset.shape or ()) * dataset.dtype.itemsize


def _check_dataset(dataset: h5py.Dataset, filepath: str, max_bytes: int) -> int:
    """Refuse an unsafe dataset; the bytes it declares."""
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise UnsafeFileError(
            f"{filepath!r}: {dataset.name} is a virtual dataset, which maps data from other files"
        )
    if plist.get_external_count():
        raise UnsafeFileError(
            f"{filepath!r}: {dataset.name} keeps its data in external files "
            f"({quoted(plist.get_external(0)[0].decode(errors='replace'))} ...)"
        )
    if dataset.dtype.kind not in "fiu":
        raise UnsafeFileError(
            f"{filepath!r}: {dataset.name} holds {dataset.dtype} values; weights are numbers"
        )
    declared = declared_bytes(dataset)
    if declared > max_bytes:
        raise UnsafeFileError(
            f"{filepath!r}: {dataset.name} declares shape {dataset.shape} ({declared} bytes of "
            f"{dataset.dtype}), more than a file of {os.path.getsize(filepath)} bytes can hold"
        )
    return declared


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype} with shape {value.shape}"
    return f"a {type(value).__name__}"


def _attribute(obj: h5py.HLObject, key: str, filepath: str) -> Any:
    try:
        return obj.attrs[key]
    except (OSError, TypeError) as exc:
        raise UnsafeFileError(
            f"{filepath!r}: attribute {key!r} of {obj.name} cannot be read ({exc})"
        ) from exc


def _text(value: Any, what: str, filepath: str) -> str:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SUO":
        value = value[()]
    try:
        if isinstance(value, str):  # h5py decodes variable-length strings with surrogates
            value.encode("utf-8")
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8")
    except UnicodeError as exc:
        raise UnsafeFileError(f"{filepath!r}: {what} is not UTF-8 text ({exc})") from exc
    raise UnsafeFileError(f"{filepath!r}: {what} must be a string, but it is {_describe(value)}")


def read_text(obj: h5py.HLObject, key: str, filepath: str) -> str | None:
    """A string attribute (a JSON document, a version), or None when it is absent."""
    if key not in obj.attrs:
        return None
    return _text(_attribute(obj, key, filepath), f"attribute {key!r} of {obj.name}", filepath)


def read_json(obj: h5py.HLObject, key: str, filepath: str) -> Any:
    """A JSON attribute parsed with :mod:`json` (never pickle or YAML), or None when absent."""
    text = read_text(obj, key, filepath)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UnsafeFileError(
            f"{filepath!r}: attribute {key!r} of {obj.name} is not valid JSON ({exc})"
        ) from exc


def read_names(obj: h5py.HLObject, key: str, filepath: str) -> list[str] | None:
    """A list of names (``layer_names``, ``weight_names``), whole or split into ``key0, key1 ...``.

    Keras 1 stored an empty list as an empty float array, so any empty array
    reads as no names.  None when the attribute is absent in both forms.
    """
    if key in obj.attrs:
        keys = [key]
    else:
        keys = []
        while f"{key}{len(keys)}" in obj.attrs:
            keys.append(f"{key}{len(keys)}")
        if not keys:
            return None
    names: list[str] = []
    for part in keys:
        value = _attribute(obj, part, filepath)
        what = f"attribute {part!r} of {obj.name}"
        if not isinstance(value, np.ndarray) or value.ndim != 1:
            raise UnsafeFileError(
                f"{filepath!r}: {what} must be a list of names, but it is {_describe(value)}"
            )
        if value.size and value.dtype.kind not in "SUO":
            raise UnsafeFileError(
                f"{filepath!r}: {what} must hold strings, but it is {_describe(value)}"
            )
        names.extend(_text(item, f"an entry of {what}", filepath) for item in value)
    repeated = [(name, n) for name, n in collections.Counter(names).items() if n > 1]
    if repeated:
        name, count = repeated[0]
        raise UnsafeFileError(
            f"{filepath!r}: attribute {key!r} of {obj.name} lists {quoted(name)} {count} times; "
            "each name may appear once (a file cannot hold two objects of one name)"
        )
    return names


def dataset_of(group: h5py.Group, name: str, filepath: str) -> h5py.Dataset:
    """The dataset a ``weight_names`` entry names, not read yet (checked on open)."""
    dataset = group.get(name)
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(
            f"{filepath!r}: {group.name} lists the weight {quoted(name)}, but holds no such dataset"
        )
    return dataset


def read_dataset(dataset: h5py.Dataset, filepath: str) -> np.ndarray:
    """A dataset's values in the machine's byte order (files written elsewhere may keep
    big-endian arrays, which torch does not take)."""
    try:
        array = np.asarray(dataset[()])
    except OSError as exc:
        raise OSError(
            f"Cannot read {dataset.name} of {filepath!r}: the file is damaged ({exc})"
        ) from exc
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def refuse_code(config: Any, safe_mode: bool, filepath: str) -> None:
    """With ``safe_mode``, refuse configs that store Python functions as code (Keras 1's
    ``function_type: 'lambda'``, marshalled bytecode in Lambda and Merge layers).

    ``safe_mode`` comes only from the caller: no key in a file can change it.
    """
    if not safe_mode:
        return
    pending = [config]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            code = sorted(k for k, v in item.items() if k.endswith("_type") and v == "lambda")
            if code:
                raise UnsafeFileError(
                    f"{filepath!r}: layer {quoted(item.get('name'))} stores Python code "
                    f"({', '.join(code)} = 'lambda'); loading it would run code from the file. "
                    "Pass safe_mode=False only for files you trust"
                )
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
