"""``HDF5Matrix``: Keras 1's ``keras.utils.io_utils.HDF5Matrix``, reached as
``lamella.utils.io_utils.HDF5Matrix`` through core's facade.

Rows are read from the file only when indexed, so a data set larger than memory
feeds ``fit``, ``evaluate`` and ``predict`` batch by batch: they stream any data read
from a file unless it is small (see "Devices and settings" in the README).  With
``fit(shuffle='batch')`` each batch is one contiguous read, as in Keras 1;
``shuffle=True`` reads each batch's rows at sorted, scattered indices, one read per row.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import h5py
import numpy as np

__all__ = ["HDF5Matrix"]


class HDF5Matrix:
    """Rows ``start:end`` of an HDF5 dataset, indexed like a numpy array along axis 0.

    Files are opened read-only, once per path, and shared by every matrix on them
    (Keras kept the same cache, so that train and test views of one file share a handle).
    """

    refs: ClassVar[dict[str, h5py.File]] = {}

    def __init__(
        self,
        datapath: str | os.PathLike[str],
        dataset: str,
        start: int = 0,
        end: int | None = None,
        normalizer: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        path = os.fspath(datapath)
        handle = self.refs.get(path)
        if handle is None or not handle.id.valid:
            handle = self.refs[path] = h5py.File(path, "r")
        data = handle.get(dataset)
        if not isinstance(data, h5py.Dataset) or data.ndim == 0:
            raise ValueError(f"{path!r} holds no dataset {dataset!r} with rows")
        if data.dtype.kind not in "biuf":
            raise ValueError(f"{path!r}: dataset {dataset!r} holds {data.dtype}, not numbers")
        rows = data.shape[0]
        end = rows if end is None else end
        if not 0 <= start <= end <= rows:
            raise ValueError(f"HDF5Matrix: need 0 <= start <= end <= {rows}, got {start}, {end}")
        self.data = data
        self.start = start
        self.end = end
        self.normalizer = normalizer

    def __len__(self) -> int:
        return self.end - self.start

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.data.shape[1:])

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        rows = self._rows(key)
        if isinstance(rows, np.ndarray):
            if len(rows) and bool(np.all(rows[1:] > rows[:-1])):  # as streaming asks
                values = self.data[rows.tolist()]
            else:
                # h5py reads only increasing, unique indices: read those, then reorder.
                unique, inverse = np.unique(rows, return_inverse=True)
                values = self.data[unique.tolist()][inverse] if len(unique) else self.data[:0]
        else:
            values = self.data[rows]
        return self.normalizer(values) if self.normalizer is not None else values

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self[:]
        return values if dtype is None else values.astype(dtype)

    def _rows(self, key: Any) -> slice | int | np.ndarray:
        """``key`` (relative to ``start``) as rows of the whole dataset."""
        size = len(self)
        if isinstance(key, slice):
            first, stop, step = key.indices(size)
            return slice(self.start + first, self.start + stop, step)
        if isinstance(key, (int, np.integer)):
            index = int(key) + size if key < 0 else int(key)
            if not 0 <= index < size:
                raise IndexError(f"index {key} is out of range for {size} rows")
            return self.start + index
        indices = np.asarray(key)
        if indices.dtype.kind not in "iu" or indices.ndim != 1:
            raise IndexError(
                f"HDF5Matrix rows are indexed by int, slice or a list of ints: {key!r}"
            )
        indices = np.where(indices < 0, indices + size, indices)
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            raise IndexError(f"indices {key!r} are out of range for {size} rows")
        return self.start + indices
