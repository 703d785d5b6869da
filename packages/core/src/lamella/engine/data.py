"""Turning what users pass to ``fit``/``predict`` into checked tensors on the device.

:class:`DataPlan` does it for one model's inputs and outputs, and gives a call's
:class:`Data`.  Two paths, chosen per call by :meth:`DataPlan.streaming`:

- **Whole on the device** (the fast path): arrays are converted and moved once per
  call; batches are then index slices of those tensors.  Every check runs before
  training starts, so bad input costs an error message, never a half-trained model.
- **Streamed**, for data over the memory budget (``data_budget``) or read from a file
  (memory maps, ``HDF5Matrix``): each array stays where it is as a :class:`HostColumn`
  and is read, converted and checked a batch at a time (``batches.StreamedBatches``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import mmap
import numbers
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lamella.backend.config import AUTO_DATA_SHARE, data_budget, torch_dtype
from lamella.utils.messages import quoted

if TYPE_CHECKING:
    from lamella.engine.objectives import OutputObjective

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


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A result as numpy on the host; half precision (which numpy lacks for bfloat16)
    comes back as float32, the dtype every output of ``predict`` has without it."""
    tensor = tensor.detach()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.cpu().numpy()


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
    size = math.prod(int(n) for n in shape) * dtype.itemsize
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


# -- one model's data: what fit, evaluate and predict are given, checked and converted ------


@dataclass
class Data:
    """A call's inputs, targets and sample weights, one entry per model input and output
    (``None`` for an output without weights): tensors on ``device``, or columns left where
    they are when ``streamed``."""

    inputs: list[Any]
    targets: list[Any]
    weights: list[Any]
    device: torch.device
    streamed: bool = False

    @property
    def columns(self) -> tuple[list[Any], list[Any], list[Any]]:
        return self.inputs, self.targets, self.weights

    def samples(self) -> int:
        """The number of samples, the same in every array (else an error)."""
        return check_lengths(
            {"input": self.inputs, "target": self.targets, "sample_weight": self.weights}
        )

    def split(self, fraction: float) -> tuple[Data, Data]:
        """Keras's ``validation_split``: the last ``fraction`` of the samples is the
        validation data, cut before any shuffling."""
        n_in, n_out = len(self.inputs), len(self.targets)

        def cut(part: list[Any]) -> Data:
            inputs, targets, weights = part[:n_in], part[n_in : n_in + n_out], part[n_in + n_out :]
            return Data(inputs, targets, weights, self.device, self.streamed)

        head, tail = split_tail([*self.inputs, *self.targets, *self.weights], fraction)
        return cut(head), cut(tail)

    def warn_scattered_reads(self) -> None:
        """One warning when ``shuffle=True`` makes an HDF5 file (or a similar array-like)
        read every batch's rows at scattered places."""
        scattered = sorted(
            {
                type(column.value).__name__
                for column in [*self.inputs, *self.targets, *self.weights]
                if isinstance(column, HostColumn) and column.scattered
            }
        )
        if scattered:
            warnings.warn(
                f"fit: shuffle=True reads each batch's rows from scattered places of "
                f"{', '.join(scattered)} data (in increasing order, as h5py requires): an "
                "HDF5 file then reads every row on its own, often many times slower than "
                "shuffle='batch', which reads each batch as one contiguous slice (Keras 1's "
                "advice for HDF5Matrix)",
                stacklevel=3,
            )


def unpack(item: Any, what: str) -> tuple[Any, Any, Any]:
    """``(x, y)`` or ``(x, y, sample_weight)`` from one generator item."""
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(
            f"{what}: the generator must yield (x, y) or (x, y, sample_weight) tuples, got "
            f"{type(item).__name__}"
            + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else "")
        )
    x, y, *rest = item
    return x, y, rest[0] if rest else None


def require_samples(call: str, count: int) -> int:
    """An empty dataset would train or score nothing (a NaN loss) and look like success."""
    if not count:
        raise ValueError(f"{call}: got 0 samples (empty arrays): there is nothing to compute")
    return count


def _checked(
    checks: Sequence[Callable[[torch.Tensor, str], None]], name: str, batch: torch.Tensor
) -> torch.Tensor:
    for check in checks:
        check(batch, name)
    return batch


class DataPlan:
    """How one model takes data: each input's and output's conversion and checks.

    The model's inputs and outputs give the names, dtypes and shapes; its compiled
    objectives say which targets are class indices and which weights are temporal.
    """

    def __init__(self, model: Any):
        self.model = model
        self.device: torch.device = model.device

    # -- the whole call ---------------------------------------------------------------

    def streaming(self, stream: bool | None, *groups: tuple[Any, Any, Any] | None) -> bool:
        """Whether this call streams its data: ``stream`` if given, else whether the data
        of ``groups`` (``(x, y, sample_weight)`` tuples, or ``None``) passes the memory
        budget or is read from files."""
        if stream is not None:
            return stream
        model = self.model
        entries: list[tuple[Any, torch.dtype]] = []
        for group in groups:
            if group is None:
                continue
            x, y, sample_weight = group
            values = as_list(x, model.input_names, "input")
            entries += [
                (v, torch_dtype(s.dtype)) for v, s in zip(values, model.inputs, strict=True)
            ]
            if y is not None:
                values = as_list(y, model.output_names, "target")
                for value, objective in zip(values, model.objectives, strict=True):
                    entries.append((value, torch.long if objective.sparse else torch_dtype(None)))
            if sample_weight is not None:
                values = as_list(
                    sample_weight, model.output_names, "sample_weight", allow_none=True
                )
                entries += [(v, torch_dtype(None)) for v in values]
        return streams(entries, self.device)

    def data(self, x: Any, y: Any, sample_weight: Any, class_weight: Any, streaming: bool) -> Data:
        """Inputs, targets and weights: device tensors, or columns to stream."""
        if streaming:
            targets = self.target_columns(y)
            weights = self.weight_columns(sample_weight, class_weight, targets)
            return Data(self.input_columns(x), targets, weights, self.device, True)
        inputs = self.inputs(x)
        targets = self.targets(y)
        weights = self.weights(sample_weight, class_weight, targets)
        return Data(inputs, targets, weights, self.device)

    def input_data(self, x: Any, streaming: bool) -> Data:
        """The inputs alone (``predict``)."""
        inputs = self.input_columns(x) if streaming else self.inputs(x)
        return Data(inputs, [], [], self.device, streaming)

    def fit_data(
        self,
        x: Any,
        y: Any,
        sample_weight: Any,
        class_weight: Any,
        validation_data: tuple[Any, Any, Any] | None,
        validation_split: float,
        streaming: bool,
    ) -> tuple[Data, Data | None]:
        """``fit``'s training data and its validation data (given, or split off)."""
        data = self.data(x, y, sample_weight, class_weight, streaming)
        require_samples("fit", data.samples())
        validation = None
        if validation_data is not None:
            validation = self.data(*validation_data, None, streaming)
            check_lengths(
                {"validation input": validation.inputs, "validation target": validation.targets}
            )
        elif validation_split:
            data, validation = data.split(validation_split)
        if not int(data.inputs[0].shape[0]):
            raise ValueError(
                f"fit: validation_split={validation_split} leaves no samples to train on"
            )
        return data, validation

    def batch(self, item: Any, what: str, class_weight: Any = None) -> Any:
        """One generator item as a batch of device tensors, checked like fit's arrays;
        ``class_weight`` (one ``{class: weight}`` for every output) weighs the outputs
        the item gives no sample weights for."""
        x, y, sample_weight = unpack(item, what)
        inputs = self.inputs(x)
        targets = self.targets(y)
        weights = self.weights(sample_weight, None, targets)
        size = check_lengths({"input": inputs, "target": targets, "sample_weight": weights})
        if class_weight:
            weights = [
                w if w is not None else class_weights(t, class_weight, objective)
                for w, t, objective in zip(weights, targets, self.model.objectives, strict=True)
            ]
        return size, inputs, targets, weights

    # -- inputs -----------------------------------------------------------------------

    def inputs(self, x: Any) -> list[torch.Tensor]:
        model, device = self.model, self.device
        values = as_list(x, model.input_names, "input")
        tensors = []
        for value, name, source in zip(values, model.input_names, model.inputs, strict=True):
            checks = self.input_checks(source)
            if not checks:
                tensors.append(to_tensor(value, f"input {name}", source.dtype, device))
                continue
            # Checked where the data is (host data on the host), then moved.
            here = value.device if isinstance(value, torch.Tensor) else torch.device("cpu")
            tensor = to_tensor(value, f"input {name}", source.dtype, here)
            for check in checks:
                check(tensor, f"input {name}")
            tensors.append(to_tensor(tensor, f"input {name}", source.dtype, device))
        tensors = [column(t) for t in tensors]
        check_shapes(tensors, model.input_names, model.internal_input_shapes, "input")
        return tensors

    def input_columns(self, x: Any) -> list[HostColumn]:
        """The inputs left where they are, for streaming; each batch gets the whole-array
        checks of the fast path (an Embedding's index range) as it is read."""
        model = self.model
        values = as_list(x, model.input_names, "input")
        columns = []
        for value, name, source in zip(values, model.input_names, model.inputs, strict=True):
            checks = self.input_checks(source)
            prepare = functools.partial(_checked, checks, f"input {name}") if checks else None
            dtype = torch_dtype(source.dtype)
            columns.append(HostColumn(value, f"input {name}", dtype, prepare))
        check_shapes(columns, model.input_names, model.internal_input_shapes, "input")
        return columns

    def input_checks(self, source: Any) -> list[Callable[[torch.Tensor, str], None]]:
        """The whole-array checks of the layers of this model fed straight from ``source``
        (an Embedding's index range): run once per call, before any batch, because a
        bad index on CUDA is a device-side assert that names nothing."""
        return [
            check
            for node in source.layer.outbound_nodes
            if (check := getattr(node.outbound_layer, "check_input_data", None)) is not None
            and any(node is own for own in self.model._nodes)
        ]

    # -- targets ----------------------------------------------------------------------

    def targets(self, y: Any) -> list[torch.Tensor]:
        values = as_list(y, self.model.output_names, "target")
        tensors = []
        for value, objective in zip(values, self.model.objectives, strict=True):
            name = f"target {objective.output_name}"
            if objective.sparse:
                tensor = class_indices(value, name, objective.output_shape[-1], self.device)
            else:
                tensor = column(to_tensor(value, name, None, self.device))
            check_target(tensor, objective)
            tensors.append(tensor)
        return tensors

    def target_columns(self, y: Any) -> list[HostColumn]:
        values = as_list(y, self.model.output_names, "target")
        columns = []
        for value, objective in zip(values, self.model.objectives, strict=True):
            name = f"target {objective.output_name}"
            if objective.sparse:
                check = functools.partial(
                    check_class_indices, name=name, classes=objective.output_shape[-1]
                )
                host = HostColumn(value, name, torch.float64, check, as_column=False)
            else:
                host = HostColumn(value, name, torch_dtype(None))
            check_target(host, objective)
            columns.append(host)
        return columns

    # -- sample and class weights -----------------------------------------------------

    def weights(
        self, sample_weight: Any, class_weight: Any, targets: list[torch.Tensor]
    ) -> list[torch.Tensor | None]:
        weights: list[torch.Tensor | None] = []
        for value, per_class, target, objective in self._weight_sources(
            sample_weight, class_weight, targets
        ):
            if value is not None:
                tensor = to_tensor(value, "sample_weight", None, self.device)
                weights.append(check_sample_weight(tensor, objective))
            elif per_class:
                weights.append(class_weights(target, per_class, objective))
            else:
                weights.append(None)
        return weights

    def weight_columns(
        self, sample_weight: Any, class_weight: Any, targets: list[HostColumn]
    ) -> list[Any]:
        columns: list[Any] = []
        for value, per_class, target, objective in self._weight_sources(
            sample_weight, class_weight, targets
        ):
            if value is not None:
                host = HostColumn(value, "sample_weight", torch_dtype(None), as_column=False)
                columns.append(check_sample_weight(host, objective))
            elif per_class:
                derive = functools.partial(
                    class_weights, class_weight=per_class, objective=objective
                )
                columns.append(DerivedColumn(target, derive))
            else:
                columns.append(None)
        return columns

    def _weight_sources(
        self, sample_weight: Any, class_weight: Any, targets: list[Any]
    ) -> Iterator[tuple[Any, Any, Any, OutputObjective]]:
        """Per output: its sample weights as given, its class weights, target, objective."""
        names = self.model.output_names
        given = as_list(sample_weight, names, "sample_weight", allow_none=True)
        classes = (
            as_list(class_weight, names, "class_weight", allow_none=True)
            if isinstance(class_weight, Mapping)
            and set(class_weight) <= set(names)
            and class_weight
            else [class_weight] * len(names)
        )
        return zip(given, classes, targets, self.model.objectives, strict=True)


def check_target(target: Any, objective: OutputObjective) -> None:
    """``target`` (a tensor or a streamed column) must have the output's shape."""
    shape = objective.output_shape
    name = objective.output_name
    rank = len(target.shape)
    if objective.sparse:
        fits = rank in (len(shape) - 1, len(shape)) and (
            rank == len(shape) - 1 or target.shape[-1] == 1
        )
        expected = f"class indices of shape {(*shape[:-1], 1)}"
    else:
        fits = rank == len(shape) and all(
            e is None or e == g for e, g in zip(shape[1:], target.shape[1:], strict=True)
        )
        expected = f"shape {shape}"
    if not fits:
        loss_name = getattr(objective.loss, "__name__", "the loss")
        hint = ""
        if (
            loss_name == "categorical_crossentropy"
            and rank >= 1
            and (rank == 1 or target.shape[-1] == 1)
        ):
            hint = (
                "; for integer class labels use loss='sparse_categorical_crossentropy' "
                "or one-hot them with lamella.utils.np_utils.to_categorical"
            )
        raise ValueError(
            f"Error when checking model target: output {name} with loss {loss_name} "
            f"expects {expected}, but got an array with shape {tuple(target.shape)}{hint}"
        )


def check_sample_weight(weights: Any, objective: OutputObjective) -> Any:
    rank = len(weights.shape)
    if objective.temporal and rank != 2:
        raise ValueError(
            "sample_weight_mode='temporal' needs 2D sample weights "
            f"(samples, timesteps), got shape {tuple(weights.shape)}"
        )
    if not objective.temporal and rank != 1:
        raise ValueError(
            "sample_weight must be 1D (one weight per sample) unless compile() "
            f"got sample_weight_mode='temporal'; got shape {tuple(weights.shape)}"
        )
    return weights


def class_weights(
    target: torch.Tensor, class_weight: Mapping[Any, float], objective: OutputObjective
) -> torch.Tensor:
    """One output's per-sample weights from ``{class: weight}``."""
    classes = objective.output_shape[-1] if objective.sparse else None
    name = f"target {objective.output_name}"
    return class_weights_to_samples(target, class_weight, classes, name, objective.sparse)
