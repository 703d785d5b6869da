"""How a call runs: in one process, or data parallel across processes started by ``torchrun``.

``fit``, ``evaluate`` and ``predict`` ask :func:`choose` once per call for a strategy,
:class:`SingleProcess` or :class:`DataParallel`, and leave every difference between the
two to it: which batches this process runs, the sums added up over processes, who
prints, and the training steps' forward through ``DistributedDataParallel``.  A single
process pays nothing per batch.

Data parallel is on when ``torch.distributed`` is initialised with more than one
process, or when ``LAMELLA_DISTRIBUTED=1`` and torchrun's variables are set (lamella
then initialises the process group itself: NCCL on CUDA, one device per local
rank; gloo on CPU).  ``LAMELLA_DISTRIBUTED=0`` keeps every process on its own.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from lamella.backend.config import device as default_device
from lamella.callbacks import Callback
from lamella.engine.batches import ArrayBatches, Batch, HostOutputs, JoinedOutputs, StreamedBatches
from lamella.engine.data import Data

if TYPE_CHECKING:
    from lamella.engine.loops import EpochStats


def active() -> bool:
    """Whether to run data parallel; initialises the process group when asked to."""
    flag = os.environ.get("LAMELLA_DISTRIBUTED", "")
    if flag == "0" or not dist.is_available():
        return False
    if not dist.is_initialized():
        if flag != "1" or "WORLD_SIZE" not in os.environ:
            return False
        cuda = torch.cuda.is_available() and default_device().type == "cuda"
        if cuda:  # before compile places the model: "cuda" then means this rank's GPU
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=group_timeout())
        atexit.register(_release_process_group)
    return dist.get_world_size() > 1


def group_timeout() -> timedelta:
    """How long a collective may wait for the other ranks: ``LAMELLA_DISTRIBUTED_TIMEOUT``
    seconds (set by whoever launches the job), else torch's default of 30 minutes."""
    seconds = os.environ.get("LAMELLA_DISTRIBUTED_TIMEOUT")
    return timedelta(seconds=float(seconds)) if seconds else timedelta(minutes=30)


class PeerLostError(RuntimeError):
    """A collective failed: another rank died, hung past the timeout, or is unreachable."""


#: What the gloo and NCCL backends say when a peer is gone (they raise plain RuntimeErrors).
_PEER_FAILURE = re.compile(r"gloo|nccl|connection (reset|closed|refused)|timed out", re.IGNORECASE)


def explain_failure(error: RuntimeError) -> RuntimeError:
    """``error`` reworded when it is a lost peer, so a rank's log says what happened."""
    if not (isinstance(error, dist.DistError) or _PEER_FAILURE.search(str(error))):
        return error
    return PeerLostError(
        f"rank {rank()}: data-parallel training lost another process: a collective operation "
        "failed, so a rank most likely died (see its log) or cannot be reached; waits are "
        f"bounded by LAMELLA_DISTRIBUTED_TIMEOUT ({group_timeout().total_seconds():g} s). "
        f"The backend said: {error}"
    )


def _release_process_group() -> None:
    """Destroy lamella's group while Python is whole: else gloo's threads abort the exit.

    An uncaught error (a lost peer's ``PeerLostError``) leaves its traceback in ``sys``,
    and the traceback's frames hold the DDP wrapper, whose reducer holds the group: it
    would outlive this handler and die later in the interpreter's teardown, where
    gloo's threads abort the process (about one exit in eight).  So that traceback is
    let go first.  Gloo ranks then wait for each other (a rank whose peer already tore
    the group down aborts too), but at most half a minute, so a rank that dies never
    holds up the others' exit for the group's full timeout.
    """
    if not dist.is_initialized():
        return
    for name in ("last_exc", "last_type", "last_value", "last_traceback"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    gc.collect()
    if dist.get_backend() == "gloo":
        with contextlib.suppress(RuntimeError):  # a peer is gone: leaving is all that is left
            dist.monitored_barrier(timeout=timedelta(seconds=30))
    dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def for_this_rank(callbacks: Sequence[Callback]) -> list[Callback]:
    """The callbacks this rank runs: those marked ``rank_zero_only`` (writers) run on rank 0."""
    if rank() == 0:
        return list(callbacks)
    return [c for c in callbacks if not getattr(c, "rank_zero_only", False)]


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on one: how a stop on one rank stops them all."""
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def reduce_stats(stats: EpochStats, device: torch.device) -> None:
    """Sum the weighted totals and sample counts of all ranks, so averages are global."""
    width = len(stats.names)
    totals = stats.totals if stats.totals is not None else torch.zeros(width, device=device)
    seen = torch.tensor([stats.seen], dtype=torch.float64, device=device)  # exact counts
    packed = torch.cat([totals.detach().double().reshape(-1), seen])
    dist.all_reduce(packed)
    stats.totals, stats.seen = packed[:width].to(totals.dtype), int(packed[width].item())


def bounds(count: int) -> tuple[int, int]:
    """This rank's contiguous share of ``count`` rows (ceil-sized, the last may be short)."""
    share = -(-count // dist.get_world_size())
    start = min(rank() * share, count)
    return start, min(start + share, count)


def shard(columns: list[Any]) -> list[Any]:
    """This rank's rows of every column (``None`` columns stay ``None``)."""
    start, stop = bounds(int(columns[0].shape[0]))
    return [c[start:stop] if c is not None else None for c in columns]


def gather(local: torch.Tensor, count: int) -> torch.Tensor:
    """The rows of all ranks' shards (from :func:`shard`) in order, on every rank."""
    world = dist.get_world_size()
    share = -(-count // world)
    padded = local.new_zeros((share, *local.shape[1:]))
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat(parts)[:count]


class ShardedBatches(ArrayBatches):
    """Each rank's part of every global batch of ``batch_size * world_size`` rows.

    Rank 0 draws the epoch's order and broadcasts it, so all ranks cut the same
    permutation (rank 0's draw is what a single process with the same seed draws).
    Every global batch is split into equal parts, so the averaged gradient is the
    gradient of the global batch; rows are repeated to make the count divide by
    the world size, as ``DistributedSampler`` does.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.world = dist.get_world_size()
        self.rank = rank()
        self.local_batch = self.batch_size
        self.batch_size *= self.world  # the global batch, also for shuffle='batch'
        self.per_rank = -(-self.count // self.world)

    def epoch(self) -> Iterator[Batch]:
        order = self.order()
        if order is None:
            order = torch.arange(self.count, device=self.columns[0].device)
        else:
            dist.broadcast(order, 0)
        missing = self.per_rank * self.world - self.count
        if missing:
            order = torch.cat([order, order[:missing]])
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            part = len(chunk) // self.world
            yield self.take(chunk[self.rank * part : (self.rank + 1) * part])


class _TrainingForward(torch.nn.Module):
    """The model's own forward (masks included) as a module for DDP to wrap.

    DDP reduces gradients only for a forward that ran through the DDP object.
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: list[torch.Tensor]) -> tuple[list[Any], list[Any]]:
        return self.model._forward(inputs)


class GatheredOutputs(JoinedOutputs):
    """``predict``'s outputs of this rank's share, then the rows of every rank, in order."""

    def __init__(self, count: int):
        super().__init__()
        self.count = count

    def joined(self) -> list[torch.Tensor]:
        return [gather(part, self.count) for part in super().joined()]


class _NoRows:
    """An empty share's one batch of no rows: the rank still takes part in the gather."""

    count = 0

    def __init__(self, inputs: list[torch.Tensor]):
        self.inputs = inputs

    def epoch(self) -> Iterator[Batch]:
        yield 0, [t[:0] for t in self.inputs], [], []

    def close(self) -> None:
        pass


class Strategy(Protocol):
    """What differs between one process and data parallel, asked of one object per call."""

    #: Whether ``model.stop_training`` ends an epoch at once (else at the epoch's end).
    stops_mid_epoch: bool

    def verbosity(self, verbose: int) -> int:
        """The verbosity this process prints with."""
        ...

    def callbacks(self, callbacks: Sequence[Callback] | None) -> list[Callback]:
        """The callbacks this process runs."""
        ...

    def stream(self, call: str, stream: bool | None) -> bool | None:
        """``stream`` as this strategy allows it (``None``: decide by the data)."""
        ...

    def train_batches(self, data: Data, batch_size: int, shuffle: bool | str) -> Any:
        """The training batches this process runs, reshuffled every epoch."""
        ...

    def test_batches(self, data: Data, batch_size: int) -> Any:
        """The batches this process evaluates, in order."""
        ...

    def predict_batches(self, data: Data, batch_size: int) -> Any:
        """The batches this process predicts, in order."""
        ...

    def outputs(self, count: int) -> Any:
        """Where ``predict`` gathers the outputs of ``count`` samples."""
        ...

    def reduce(self, stats: EpochStats, device: torch.device) -> None:
        """Make ``stats`` the sums over all processes."""
        ...

    def any_process(self, flag: bool, device: torch.device) -> bool:
        """``flag``, true everywhere when it is true in one process."""
        ...

    def training(self, model: Any) -> contextlib.AbstractContextManager[Any]:
        """The block in which ``model`` trains."""
        ...


class SingleProcess:
    """Everything in this process: all of the data, the values as computed."""

    stops_mid_epoch = True

    def verbosity(self, verbose: int) -> int:
        return verbose

    def callbacks(self, callbacks: Sequence[Callback] | None) -> list[Callback]:
        return list(callbacks or [])

    def stream(self, call: str, stream: bool | None) -> bool | None:
        return stream

    def train_batches(self, data: Data, batch_size: int, shuffle: bool | str) -> Any:
        if data.streamed:
            return StreamedBatches(*data.columns, batch_size, shuffle, data.device)
        return ArrayBatches(*data.columns, batch_size, shuffle)

    def test_batches(self, data: Data, batch_size: int) -> Any:
        return self.train_batches(data, batch_size, False)

    def predict_batches(self, data: Data, batch_size: int) -> Any:
        return self.train_batches(data, batch_size, False)

    def outputs(self, count: int) -> Any:
        return HostOutputs(count)

    def reduce(self, stats: EpochStats, device: torch.device) -> None:
        pass

    def any_process(self, flag: bool, device: torch.device) -> bool:
        return flag

    def training(self, model: Any) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()


class DataParallel:
    """Each rank its share of the data; sums all-reduced; rank 0 prints; steps through DDP.

    Data is always whole on each device.  A stop asked for mid-epoch waits for the
    epoch's end, since all ranks must run the same number of steps.
    """

    stops_mid_epoch = False

    def verbosity(self, verbose: int) -> int:
        """Only rank 0 prints."""
        return verbose if rank() == 0 else 0

    def callbacks(self, callbacks: Sequence[Callback] | None) -> list[Callback]:
        return for_this_rank(callbacks or [])

    def stream(self, call: str, stream: bool | None) -> bool | None:
        if stream:
            raise ValueError(f"{call}: stream=True is not available in data parallel runs")
        return False

    def train_batches(self, data: Data, batch_size: int, shuffle: bool | str) -> Any:
        return ShardedBatches(*data.columns, batch_size, shuffle)

    def test_batches(self, data: Data, batch_size: int) -> Any:
        """A contiguous share of the rows per rank."""
        n_in, n_out = len(data.inputs), len(data.targets)
        columns = shard([*data.inputs, *data.targets, *data.weights])
        inputs, targets = columns[:n_in], columns[n_in : n_in + n_out]
        return ArrayBatches(inputs, targets, columns[n_in + n_out :], batch_size, False)

    def predict_batches(self, data: Data, batch_size: int) -> Any:
        inputs = shard(data.inputs)
        source = ArrayBatches(inputs, [], [], batch_size, False)
        return source if source.count else _NoRows(inputs)

    def outputs(self, count: int) -> Any:
        """Every rank gets all the rows."""
        return GatheredOutputs(count)

    def reduce(self, stats: EpochStats, device: torch.device) -> None:
        reduce_stats(stats, device)

    def any_process(self, flag: bool, device: torch.device) -> bool:
        return any_rank(flag, device)

    @contextlib.contextmanager
    def training(self, model: Any) -> Iterator[None]:
        """Training steps through DistributedDataParallel for the block; wrapping
        broadcasts rank 0's weights and buffers, so every rank starts equal.  A failed
        collective is reworded as a lost peer.  Evaluation keeps the plain model."""
        device = model.device
        ddp = DistributedDataParallel(
            _TrainingForward(model), device_ids=[device] if device.type == "cuda" else None
        )
        with model._stepping_through(ddp):
            try:
                yield
            except RuntimeError as error:
                explained = explain_failure(error)
                if explained is error:
                    raise
                raise explained from error


_SINGLE = SingleProcess()


def choose() -> Strategy:
    """The strategy of one call (see :func:`active`)."""
    return DataParallel() if active() else _SINGLE
