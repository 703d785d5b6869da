"""Where batches come from: slices of device tensors, arrays streamed from the host
(or a file), or a generator; and where ``predict``'s outputs go.

Every source yields ``(size, inputs, targets, weights)`` for one epoch at a time and
has a ``close()``, so the loops do not care which one feeds them.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lamella.engine.data import DerivedColumn, HostColumn, to_numpy

Batch = tuple[int, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None]]


def shuffled_rows(
    count: int, batch_size: int, shuffle: bool | str, device: torch.device
) -> torch.Tensor | None:
    """An epoch's row order (``None``: in place), drawn from torch's generator.

    ``'batch'`` is Keras 1's order for HDF5 data: the whole batches in a random
    order and the last, shorter one at the end, so every batch is one contiguous
    run of rows.
    """
    if shuffle == "batch":
        whole = count // batch_size
        chunks = torch.randperm(whole, device=device)
        rows = (chunks[:, None] * batch_size + torch.arange(batch_size, device=device)).reshape(-1)
        return torch.cat([rows, torch.arange(whole * batch_size, count, device=device)])
    if shuffle:
        return torch.randperm(count, device=device)
    return None


class ArrayBatches:
    """Batches as index slices of tensors already on the device, reshuffled every epoch."""

    def __init__(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
        batch_size: int,
        shuffle: bool | str,
    ):
        self.columns = [*inputs, *targets, *weights]
        self.split = (len(inputs), len(inputs) + len(targets))
        self.count = int(inputs[0].shape[0])
        self.batch_size = batch_size
        self.shuffle = shuffle

    def order(self) -> torch.Tensor | None:
        """This epoch's row order (``None``: in place); ``'batch'`` shuffles whole batches."""
        return shuffled_rows(self.count, self.batch_size, self.shuffle, self.columns[0].device)

    def epoch(self) -> Iterator[Batch]:
        order = self.order()
        first, second = self.split
        for start in range(0, self.count, self.batch_size):
            stop = min(start + self.batch_size, self.count)
            if order is not None:
                yield self.take(order[start:stop])
                continue
            batch = [c[start:stop] if c is not None else None for c in self.columns]
            yield stop - start, batch[:first], batch[first:second], batch[second:]

    def take(self, rows: torch.Tensor) -> Batch:
        """The batch of the given rows."""
        first, second = self.split
        batch = [c.index_select(0, rows) if c is not None else None for c in self.columns]
        return len(rows), batch[:first], batch[first:second], batch[second:]

    def close(self) -> None:
        """Nothing to stop: the batches are slices of tensors already there."""


class Prefetcher:
    """Pulls items from an iterator on background threads into a bounded queue.

    Keras 1's ``max_q_size`` and ``nb_worker``: the threads share the iterator
    under a lock (Keras generators are not thread-safe by themselves) and prepare
    batches while the model trains on the previous ones.
    """

    _DONE = object()

    def __init__(
        self,
        source: Iterable[Any],
        prepare: Callable[[Any], Any],
        max_q_size: int = 10,
        nb_worker: int = 1,
    ):
        self._iterator = iter(source)
        self._prepare = prepare
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, max_q_size))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, daemon=True, name=f"lamella-feeder-{i}")
            for i in range(max(1, nb_worker))
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    item = next(self._iterator)
                result: Any = self._prepare(item)
            except StopIteration:
                result = self._DONE
            except BaseException as exc:  # re-raised in the training thread
                result = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(result, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if result is self._DONE or isinstance(result, BaseException):
                return

    def get(self) -> Any:
        """The next prepared item; raises StopIteration when the source is exhausted."""
        result = self._queue.get()
        if result is self._DONE:
            raise StopIteration
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=1.0)


class PinnedStager:
    """Host batches to a GPU through a ring of page-locked buffers, on a stream of its own.

    Runs on the feeder thread: each tensor is copied (and so converted) into a pinned
    buffer of its slot, then sent with a non-blocking copy; the next batch fills the
    other slot meanwhile, and a slot is reused only once its last copy is done.  The
    training thread makes its stream wait for the batch's event (:meth:`arrive`), so
    the copy of batch n+1 overlaps the compute of batch n.
    """

    def __init__(self, device: torch.device, slots: int = 2):
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self.buffers: list[dict[int, torch.Tensor]] = [{} for _ in range(slots)]
        self.copied: list[torch.cuda.Event | None] = [None] * slots
        self.turn = 0

    def send(self, tensors: Sequence[torch.Tensor | None]) -> tuple[list[Any], Any]:
        slot = self.turn
        self.turn = (slot + 1) % len(self.buffers)
        done = self.copied[slot]
        if done is not None:
            done.synchronize()
        sent: list[torch.Tensor | None] = []
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            for index, tensor in enumerate(tensors):
                if tensor is None or tensor.device == self.device:
                    sent.append(tensor)
                    continue
                buffer = self._buffer(slot, index, tensor)
                buffer.copy_(tensor)
                sent.append(buffer.to(self.device, non_blocking=True))
            ready = torch.cuda.Event()
            ready.record(self.stream)
        self.copied[slot] = ready
        return sent, ready

    def _buffer(self, slot: int, index: int, tensor: torch.Tensor) -> torch.Tensor:
        buffer = self.buffers[slot].get(index)
        if buffer is None or buffer.dtype != tensor.dtype or buffer.numel() < tensor.numel():
            buffer = torch.empty(tensor.numel(), dtype=tensor.dtype, pin_memory=True)
            self.buffers[slot][index] = buffer
        return buffer[: tensor.numel()].view(tensor.shape)

    def arrive(self, tensors: Sequence[torch.Tensor | None], ready: Any) -> None:
        """On the training thread: its stream waits for the copies, and the caching
        allocator learns that this stream uses the batch's memory."""
        current = torch.cuda.current_stream(self.device)
        current.wait_event(ready)
        for tensor in tensors:
            if tensor is not None and tensor.device.type == "cuda":
                tensor.record_stream(current)


class StreamedBatches:
    """Batches read from arrays left on the host (or in a file), for data that does
    not fit the memory budget (see :func:`lamella.engine.data.streams`).

    A feeder thread reads each batch's rows (contiguous slices unless ``shuffle=True``
    draws scattered ones), converts them to the model's dtypes and, on a GPU, sends
    them through :class:`PinnedStager`; at most ``depth`` batches wait ready, so memory
    stays a few batches whatever the data's size.  Orders are drawn as ArrayBatches
    draws them (on the model's device), so one seed gives both paths the same batches.
    """

    def __init__(
        self,
        inputs: list[HostColumn],
        targets: list[HostColumn],
        weights: list[HostColumn | DerivedColumn | None],
        batch_size: int,
        shuffle: bool | str,
        device: torch.device,
        depth: int = 2,
    ):
        self.columns = [*inputs, *targets, *weights]
        self.split = (len(inputs), len(inputs) + len(targets))
        self.count = int(inputs[0].shape[0])
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        self.depth = depth
        self.feeder: Prefetcher | None = None

    def plan(self) -> list[slice | np.ndarray]:
        """This epoch's batches: row slices, or index arrays when ``shuffle=True``."""
        order = shuffled_rows(self.count, self.batch_size, self.shuffle, self.device)
        order = order.cpu() if order is not None else None
        plan: list[slice | np.ndarray] = []
        for start in range(0, self.count, self.batch_size):
            stop = min(start + self.batch_size, self.count)
            if order is None or self.shuffle == "batch":
                first = start if order is None else int(order[start])
                plan.append(slice(first, first + stop - start))
            else:
                plan.append(order[start:stop].numpy())
        return plan

    def read(self, rows: slice | np.ndarray) -> list[torch.Tensor | None]:
        """One batch of every column, as host tensors (targets read once for the
        class weights derived from them)."""
        done: dict[tuple[int, int, int], torch.Tensor] = {}
        batch: list[torch.Tensor | None] = []
        for column in self.columns:
            if column is None:
                batch.append(None)
                continue
            source = column.source if isinstance(column, DerivedColumn) else column
            key = (id(source.value), source.start, source.stop)
            if key not in done:
                done[key] = source.read(rows)
            read = done[key]
            batch.append(column.derive(read) if isinstance(column, DerivedColumn) else read)
        return batch

    def epoch(self) -> Iterator[Batch]:
        stager = PinnedStager(self.device) if self.device.type == "cuda" else None

        def prepare(rows: slice | np.ndarray) -> tuple[list[Any], Any]:
            batch = self.read(rows)
            return stager.send(batch) if stager is not None else (batch, None)

        first, second = self.split
        self.close()
        self.feeder = Prefetcher(self.plan(), prepare, max_q_size=self.depth)
        try:
            while True:
                try:
                    batch, ready = self.feeder.get()
                except StopIteration:
                    return
                if stager is not None:
                    stager.arrive(batch, ready)
                size = int(batch[0].shape[0])
                yield size, batch[:first], batch[first:second], batch[second:]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the feeder thread (an epoch cut short, an error)."""
        if self.feeder is not None:
            self.feeder.close()
            self.feeder = None


class HostOutputs:
    """``predict``'s outputs gathered on the host as batches finish, never on the device.

    Each batch is copied into numpy arrays made once for all samples (half-precision
    outputs as float32).  The copy of batch n waits until batch n+1 is queued, so on a
    GPU it overlaps that batch's compute.  An output whose rows do not match its
    batch's samples is gathered piece by piece and joined at the end.
    """

    def __init__(self, count: int):
        self.count = count
        self.arrays: list[np.ndarray] | None = None
        self.pieces: dict[int, list[np.ndarray]] = {}
        self.filled = 0
        self.pending: tuple[int, list[torch.Tensor]] | None = None

    def add(self, size: int, outputs: list[torch.Tensor]) -> None:
        self._flush()
        self.pending = (size, outputs)

    def _flush(self) -> None:
        if self.pending is None:
            return
        (size, outputs), self.pending = self.pending, None
        if self.arrays is None:
            self.arrays = [
                np.empty((self.count, *out.shape[1:]), dtype=_numpy_dtype(out.dtype))
                for out in outputs
            ]
        at = self.filled
        for index, (array, out) in enumerate(zip(self.arrays, outputs, strict=True)):
            if index not in self.pieces and out.dim() and out.shape[0] == size:
                torch.from_numpy(array[at : at + size]).copy_(out.detach())
                continue
            if index not in self.pieces:
                self.pieces[index] = [array[:at].copy()]
            self.pieces[index].append(to_numpy(out))
        self.filled += size

    def result(self) -> list[np.ndarray]:
        self._flush()
        arrays = self.arrays or []
        for index, pieces in self.pieces.items():
            arrays[index] = np.concatenate(pieces)
        return arrays


class JoinedOutputs:
    """Outputs kept batch by batch on the device and joined at the end: for
    ``predict_generator``, whose sample count is not known before, and data parallel
    ``predict``, which gathers them from every process."""

    def __init__(self) -> None:
        self.chunks: list[list[torch.Tensor]] = []

    def add(self, size: int, outputs: list[torch.Tensor]) -> None:
        self.chunks.append(outputs)

    def joined(self) -> list[torch.Tensor]:
        return [torch.cat(parts) for parts in zip(*self.chunks, strict=True)]

    def result(self) -> list[np.ndarray]:
        return [to_numpy(part) for part in self.joined()]


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return to_numpy(torch.empty(0, dtype=dtype)).dtype


@dataclass(frozen=True)
class Quota:
    """How much of a generator makes an epoch: Keras 1 counts samples, Keras 2 steps."""

    samples: int | None = None
    steps: int | None = None

    def reached(self, samples: int, steps: int) -> bool:
        return steps >= self.steps if self.steps is not None else samples >= (self.samples or 0)

    def progress(self, samples: int, steps: int) -> str:
        if self.steps is not None:
            return f"{steps} of {self.steps} steps"
        return f"{samples} of {self.samples} samples"


def quota(source: Any, samples: int | None, argument: str, steps: int | None) -> Quota:
    """An epoch's share of a generator: ``steps`` batches (Keras 2), else ``samples``
    (given as ``argument``, or the length of a DataLoader's dataset)."""
    if steps is None:
        return Quota(samples=_samples_in(source, samples, argument))
    if samples is not None:
        raise TypeError(f"give {argument} (Keras 1) or steps (Keras 2), not both")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive number of batches, got {steps!r}")
    return Quota(steps=steps)


def _samples_in(source: Any, given: int | None, argument: str) -> int:
    if given is not None:
        if given < 1:
            raise ValueError(f"{argument} must be a positive number of samples, got {given}")
        return int(given)
    dataset = getattr(source, "dataset", None)
    if dataset is not None and hasattr(dataset, "__len__"):
        if not len(dataset):
            raise ValueError(f"{argument}: the DataLoader's dataset is empty (0 samples)")
        return len(dataset)
    raise ValueError(f"{argument} is needed: the generator gives no way to count its samples")


class DrawnBatches:
    """One pass over a generator for ``evaluate_generator`` and ``predict_generator``:
    ``quota``'s worth of items, prepared on ``Prefetcher`` threads, or fewer if it ends.

    ``prepare`` turns an item into a batch; unlike training, the generator is not
    started again.
    """

    count = None  # not known before the pass

    def __init__(
        self,
        source: Iterable[Any],
        prepare: Callable[[Any], Batch],
        quota: Quota,
        max_q_size: int = 10,
        nb_worker: int = 1,
    ):
        self.quota = quota
        self.feeder = Prefetcher(source, prepare, max_q_size, nb_worker)

    def epoch(self) -> Iterator[Batch]:
        seen = steps = 0
        while not self.quota.reached(seen, steps):
            try:
                batch = self.feeder.get()
            except StopIteration:
                return
            yield batch
            seen, steps = seen + batch[0], steps + 1

    def close(self) -> None:
        self.feeder.close()


class GeneratorBatches:
    """Batches from a Keras generator (or a DataLoader), ``quota`` per epoch.

    A finite iterable (a DataLoader, a list of batches) is started again when it
    runs out; a generator that ends early ends the epoch with a warning, and one
    that gives nothing at all for an epoch is an error.
    """

    def __init__(
        self,
        source: Iterable[Any],
        convert: Callable[[Any], Batch],
        quota: Quota,
        max_q_size: int = 10,
        nb_worker: int = 1,
    ):
        self.source = source
        self.convert = convert
        self.quota = quota
        self.max_q_size = max_q_size
        self.nb_worker = nb_worker
        self.restartable = not isinstance(source, Iterator)
        self.feeder: Prefetcher | None = None

    def _next(self) -> Batch:
        if self.feeder is None:
            self.feeder = Prefetcher(self.source, self.convert, self.max_q_size, self.nb_worker)
        try:
            return self.feeder.get()
        except StopIteration:
            self.feeder.close()
            self.feeder = None
            if not self.restartable:
                raise
            self.feeder = Prefetcher(self.source, self.convert, self.max_q_size, self.nb_worker)
            return self.feeder.get()

    def epoch(self) -> Iterator[Batch]:
        seen = steps = 0
        while not self.quota.reached(seen, steps):
            try:
                batch = self._next()
            except StopIteration:
                if not seen:  # training on nothing would look like success
                    raise ValueError(
                        "fit_generator: the generator (or DataLoader) gave no data for this "
                        "epoch: it is empty or exhausted (a Python generator runs once; Keras "
                        "generators loop forever with `while True`)"
                    ) from None
                warnings.warn(
                    f"The generator ran out after {self.quota.progress(seen, steps)} of this epoch",
                    stacklevel=3,
                )
                return
            seen, steps = seen + batch[0], steps + 1
            yield batch
        if self.quota.samples is not None and seen > self.quota.samples:
            warnings.warn(
                f"Epoch comprised more than samples_per_epoch samples ({seen} > "
                f"{self.quota.samples}), which might affect learning results; set "
                "samples_per_epoch to a multiple of the batch size",
                stacklevel=3,
            )

    def close(self) -> None:
        if self.feeder is not None:
            self.feeder.close()
            self.feeder = None
