"""Turning what users pass to ``fit``/``predict`` into checked tensors on the device.

Two paths, chosen per call by :func:`streams`:

- **Whole on the device** (the fast path): arrays are converted and moved once per
  call; batches are then index slices of those tensors.  Every check runs before
  training starts, so bad input costs an error message, never a half-trained model.
- **Streamed**, for data over the memory budget (``data_budget``) or read from a file
  (memory maps, ``HDF5Matrix``): each array stays where it is as a :class:`HostColumn`
  and is read, converted and checked a batch at a time (``batches.StreamedBatches``).
"""

from __future__ import annotations

import contextlib
import math
import mmap
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella.backend.config import AUTO_DATA_SHARE, data_budget, torch_dtype
from lamella.utils.messages import quoted

Shape = tuple[int | None, ...]

#: Data read from a file (a memory map, an ``HDF5Matrix``) is loaded whole only up to
#: this many bytes in all (and within the budget); past it, it is always streamed.
SMALL_FILE_BYTES = 64 * 2**20

#: The size of the pieces a whole array is copied to a GPU in, through page-locked memory.
UPLOAD_CHUNK_BYTES = 16 * 2**20


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


def _check_numeric(dtype: Any, name: str) -> None:
    if isinstance(dtype, torch.dtype):
        return
    dtype = np.dtype(dtype)
    if dtype.kind == "O" or not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise TypeError(f"Data for {name} must be numeric, got an array of dtype {dtype}")


def _native(array: np.ndarray) -> np.ndarray:
    """``array`` as torch can share it: native byte order (HDF5 files may store
    big-endian numbers) and writable (a read-only memory map is copied)."""
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array if array.flags.writeable else np.array(array)


def host_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a numeric numpy array, with errors naming ``name``."""
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(
            f"Data for {name} is ragged (sequences of different lengths): {exc}; pad it "
            "to one length first (lamella.preprocessing.sequence.pad_sequences)"
        ) from None
    _check_numeric(array.dtype, name)
    return _native(array)


def to_tensor(
    value: Any, name: str, dtype: str | torch.dtype | None, device: torch.device
) -> torch.Tensor:
    """A tensor of ``dtype`` on ``device``; numbers only, with an error naming ``name``.

    On the CPU an array already of ``dtype`` is shared, not copied.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        tensor = torch.from_numpy(np.ascontiguousarray(host_array(value, name)))
    if device.type == "cuda" and tensor.device.type == "cpu":
        return upload(tensor, torch_dtype(dtype), device)
    tensor = tensor.to(dtype=torch_dtype(dtype))
    return tensor.to(device=device, non_blocking=True)


def upload(host: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A host tensor copied to a GPU as ``dtype``, in pieces through two page-locked
    buffers: converting and pinning one piece overlaps the copy of the other, and
    neither a pinned nor a converted copy of the whole array is ever made."""
    out = torch.empty(host.shape, dtype=dtype, device=device)
    if host.dim() == 0 or not host.numel():
        return out.copy_(host)
    row = max(1, math.prod(host.shape[1:]) * max(host.element_size(), out.element_size()))
    rows = max(1, UPLOAD_CHUNK_BYTES // row)
    buffers = [
        torch.empty((min(rows, host.shape[0]), *host.shape[1:]), dtype=dtype, pin_memory=True)
        for _ in range(2)
    ]
    copied: list[torch.cuda.Event | None] = [None, None]
    stream = torch.cuda.current_stream(device)
    for turn, start in enumerate(range(0, host.shape[0], rows)):
        stop = min(start + rows, host.shape[0])
        slot = turn % 2
        if copied[slot] is not None:
            copied[slot].synchronize()  # its previous piece has left for the GPU
        buffer = buffers[slot][: stop - start]
        buffer.copy_(host[start:stop])
        out[start:stop].copy_(buffer, non_blocking=True)
        copied[slot] = torch.cuda.Event()
        copied[slot].record(stream)
    for event in copied:
        if event is not None:
            event.synchronize()  # the buffers are freed on return
    return out


def check_class_indices(tensor: torch.Tensor, name: str, classes: int | None) -> torch.Tensor:
    """``tensor`` as int64 class labels after checking them: whole numbers in
    ``[0, classes)``.  The whole array on the fast path, each batch when streamed."""
    if tensor.numel():
        if tensor.is_floating_point() and not torch.equal(tensor, tensor.round()):
            raise ValueError(f"Data for {name} must hold whole class indices, got fractions")
        low, high = (int(v) for v in torch.aminmax(tensor))
        if low < 0 or (classes is not None and high >= classes):
            raise ValueError(
                f"Data for {name} holds class indices from {low} to {high}, but the output "
                f"has {classes} classes (valid indices 0 to {(classes or 1) - 1})"
            )
    return tensor.to(dtype=torch.long)


def class_indices(value: Any, name: str, classes: int | None, device: torch.device) -> torch.Tensor:
    """Integer class labels as int64, checked once: whole numbers in ``[0, classes)``."""
    tensor = to_tensor(value, name, "float64", torch.device("cpu"))
    return check_class_indices(tensor, name, classes).to(device=device)


def column(tensor: torch.Tensor) -> torch.Tensor:
    """Keras 1 reads a 1-D array of n values as n samples of one feature: shape (n, 1)."""
    return tensor.unsqueeze(1) if tensor.dim() == 1 else tensor


def check_shapes(
    tensors: Sequence[Any], names: Sequence[str], shapes: Sequence[Shape], what: str
) -> None:
    """Each array (a tensor or a :class:`HostColumn`) must have the rank of its input
    and agree on every known axis."""
    for tensor, name, shape in zip(tensors, names, shapes, strict=True):
        if len(tensor.shape) != len(shape):
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


def check_lengths(groups: Mapping[str, Sequence[Any]]) -> int:
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


def split_tail(tensors: Sequence[Any], fraction: float) -> tuple[list[Any], list[Any]]:
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


# -- the memory budget: whole on the device, or streamed ----------------------------------


def available_ram() -> float:
    """Bytes of RAM this process may still take: the system's available memory, less
    where a container's memory limit (cgroup v2) is closer; infinite if unknown."""
    found = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    with contextlib.suppress(OSError, ValueError):
        cgroup = "/sys/fs/cgroup/memory"
        with open(f"{cgroup}.max") as limit, open(f"{cgroup}.current") as used:
            ceiling = limit.read().strip()
            if ceiling != "max":
                found.append(int(ceiling) - int(used.read()))
    return float(min(found)) if found else math.inf


def free_memory(device: torch.device) -> float:
    """Bytes free for data on ``device``: a GPU's free memory (with what torch holds
    cached but unused), the available RAM for the CPU; infinite for other devices."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return float(free + cached)
    if device.type == "cpu":
        return available_ram()
    return math.inf


def budget_bytes(device: torch.device) -> float:
    """The ``data_budget`` setting in bytes for ``device``."""
    spec = data_budget()
    if isinstance(spec, int):
        return float(spec)
    share = AUTO_DATA_SHARE if spec == "auto" else float(spec)
    return share * free_memory(device)


def _streamable(value: Any) -> bool:
    """An array-like read a slice at a time: numpy arrays (memory maps too), tensors,
    and objects with a shape and dtype indexed by rows (``HDF5Matrix``, h5py and zarr
    datasets).  pandas objects index by label, so they are converted whole instead."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return True
    if type(value).__module__.partition(".")[0] == "pandas":
        return False
    return all(hasattr(value, a) for a in ("shape", "dtype", "__getitem__", "__len__"))


def from_file(value: Any) -> bool:
    """Data not in memory yet: a memory map, or an array-like that reads when indexed."""
    if isinstance(value, torch.Tensor):
        return False
    if isinstance(value, np.ndarray):
        base: Any = value
        while base is not None:
            if isinstance(base, (np.memmap, mmap.mmap)):
                return True
            base = getattr(base, "base", None)
        return False
    return _streamable(value)


def _torch_dtype_of(dtype: Any) -> torch.dtype | None:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
    except (TypeError, ValueError):
        return None


def footprint(value: Any, dtype: torch.dtype, device: torch.device) -> tuple[int, int]:
    """``(new bytes, bytes from a file)`` that putting ``value`` whole on ``device`` as
    ``dtype`` costs.  On the CPU an in-memory array or tensor already of ``dtype`` is
    shared, so it costs nothing; anything read from a file costs its converted size.
    Values without a shape (nested lists) are in memory already: they count nothing."""
    shape = getattr(value, "shape", None)
    if value is None or shape is None:
        return 0, 0
    size = math.prod(int(n) for n in shape) * torch.empty(0, dtype=dtype).element_size()
    if from_file(value):
        return size, size
    if isinstance(value, torch.Tensor):
        shared = value.dtype == dtype and (
            value.device == device or (device.type == "cpu" and value.device.type == "cpu")
        )
        return (0 if shared else size), 0
    if device.type == "cpu" and isinstance(value, np.ndarray):
        shared = (
            _torch_dtype_of(value.dtype) == dtype
            and value.dtype.isnative
            and value.flags.c_contiguous
            and value.flags.writeable
        )
        return (0 if shared else size), 0
    return size, 0


def streams(entries: Sequence[tuple[Any, torch.dtype]], device: torch.device) -> bool:
    """Whether a call's data (``(value, dtype)`` pairs) is streamed rather than put
    whole on ``device``: when the new memory it takes there passes the budget, or it
    holds more than :data:`SMALL_FILE_BYTES` read from files."""
    total = from_files = 0
    for value, dtype in entries:
        cost, read = footprint(value, dtype, device)
        total, from_files = total + cost, from_files + read
    if from_files > SMALL_FILE_BYTES:
        return True
    return total > 0 and total > budget_bytes(device)


# -- the streaming path: arrays left where they are, read a batch at a time ---------------


class HostColumn:
    """One array of a call's data, left where it is (host memory, a memory map, a
    file) and read a batch of rows at a time, converted to ``dtype``.

    ``prepare`` checks and finishes each batch (class indices, an Embedding's index
    range), the checks the fast path runs once on the whole array.  Array-likes other
    than numpy arrays and tensors are read at sorted indices (h5py accepts no other),
    then put back in the order asked for.
    """

    def __init__(
        self,
        value: Any,
        name: str,
        dtype: torch.dtype,
        prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
        as_column: bool = True,
        rows: tuple[int, int] | None = None,
    ):
        if not _streamable(value):
            value = host_array(value, name)
        else:
            _check_numeric(value.dtype, name)
        self.value = value
        self.name = name
        self.dtype = dtype
        self.prepare = prepare
        self.as_column = as_column
        self.start, self.stop = rows if rows is not None else (0, int(value.shape[0]))
        self.scattered = not isinstance(value, (np.ndarray, torch.Tensor))

    @property
    def shape(self) -> tuple[int, ...]:
        trailing = tuple(int(n) for n in self.value.shape[1:])
        if self.as_column and not trailing:
            trailing = (1,)  # Keras 1 reads n values as n samples of one feature
        return (self.stop - self.start, *trailing)

    def __getitem__(self, rows: slice) -> HostColumn:
        """The rows of a slice (``validation_split``), still unread."""
        first, stop, step = rows.indices(self.stop - self.start)
        if step != 1:
            raise ValueError(f"{self.name}: only contiguous rows can be cut from streamed data")
        return HostColumn(
            self.value,
            self.name,
            self.dtype,
            self.prepare,
            self.as_column,
            (self.start + first, self.start + max(first, stop)),
        )

    def read(self, rows: slice | np.ndarray) -> torch.Tensor:
        """The given rows (a slice, or indices in any order) as a host tensor."""
        if isinstance(rows, slice):
            block = self.value[self.start + rows.start : self.start + rows.stop]
        else:
            block = self._take(rows + self.start)
        if isinstance(block, torch.Tensor):
            tensor = block.to(dtype=self.dtype)
        else:
            tensor = torch.from_numpy(_native(np.asarray(block))).to(dtype=self.dtype)
        if self.as_column and tensor.dim() == 1:
            tensor = tensor.unsqueeze(1)
        return self.prepare(tensor) if self.prepare is not None else tensor

    def _take(self, indices: np.ndarray) -> Any:
        if isinstance(self.value, torch.Tensor):
            return self.value.index_select(0, torch.from_numpy(indices).to(self.value.device))
        if isinstance(self.value, np.ndarray):
            return np.take(self.value, indices, axis=0)
        order = np.argsort(indices, kind="stable")
        block = np.asarray(self.value[indices[order]])
        restored = np.empty_like(block)
        restored[order] = block
        return restored


class DerivedColumn:
    """A column computed from another one's batches: class weights from the targets."""

    def __init__(self, source: HostColumn, derive: Callable[[torch.Tensor], torch.Tensor]):
        self.source = source
        self.derive = derive

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.source.shape[0],)

    def __getitem__(self, rows: slice) -> DerivedColumn:
        return DerivedColumn(self.source[rows], self.derive)
