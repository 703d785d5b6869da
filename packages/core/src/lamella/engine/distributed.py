"""Data-parallel ``fit``/``evaluate``/``predict`` across processes started by ``torchrun``.

Data parallel is on when ``torch.distributed`` is initialised with more than one
process, or when ``LAMELLA_DISTRIBUTED=1`` and torchrun's variables are set (lamella
then initialises the process group itself: NCCL on CUDA, one device per local
rank; gloo on CPU).  ``LAMELLA_DISTRIBUTED=0`` keeps every process on its own.
The loops ask :func:`active` once per call, so a single process pays nothing per batch.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from lamella.backend.config import device as default_device
from lamella.callbacks import Callback, EpochStats
from lamella.engine.batches import ArrayBatches, Batch


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

    Gloo ranks first wait for each other (a rank whose peer already tore the group
    down aborts too), but at most half a minute, so a rank that dies never holds up
    the others' exit for the group's full timeout.
    """
    if not dist.is_initialized():
        return
    if dist.get_backend() == "gloo":
        with contextlib.suppress(RuntimeError):  # a peer is gone: leaving is all that is left
            dist.monitored_barrier(timeout=timedelta(seconds=30))
    dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def verbosity(verbose: int) -> int:
    """Only rank 0 prints."""
    return verbose if rank() == 0 else 0


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


def data_parallel(model: Any) -> None:
    """Route the model's training steps through DistributedDataParallel (until :func:`release`).

    Wrapping broadcasts rank 0's weights and buffers, so every rank starts equal.
    Evaluation and prediction keep the plain model (no collectives per batch).
    """
    device = model.device
    ddp = DistributedDataParallel(
        _TrainingForward(model), device_ids=[device] if device.type == "cuda" else None
    )
    objective = functools.partial(model._objective, forward=ddp)
    model._train_objective = model._acceleration.wrap(objective)


def release(model: Any) -> None:
    model._train_objective = model._objective_step
