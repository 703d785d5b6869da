"""Where training batches come from: slices of device tensors, or a generator.

Both sources yield ``(size, inputs, targets, weights)`` for one epoch at a time,
so the training loop does not care which one feeds it.
"""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

Batch = tuple[int, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None]]


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
        device = self.columns[0].device
        if self.shuffle == "batch":
            size = self.batch_size
            chunks = torch.randperm((self.count + size - 1) // size, device=device)
            rows = (chunks[:, None] * size + torch.arange(size, device=device)).reshape(-1)
            return rows[rows < self.count]
        if self.shuffle:
            return torch.randperm(self.count, device=device)
        return None

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
