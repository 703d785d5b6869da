"""The loops: training (epochs, batches, callbacks), evaluation and prediction.

Each runs over a batch source (``batches.py``: ``epoch()`` yields ``(size, inputs,
targets, weights)``) with the model's steps; what differs between one process and
data parallel comes from the call's strategy (``distributed.choose``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch

from lamella.backend.state import learning_phase_scope
from lamella.callbacks import Callback, CallbackList, History, ProgbarLogger
from lamella.engine import modes
from lamella.engine.batches import Batch
from lamella.utils.generic_utils import Progbar

if TYPE_CHECKING:
    from lamella.engine.distributed import Strategy


class BatchSource(Protocol):
    count: int | None

    def epoch(self) -> Any: ...


class EpochStats:
    """Running batch-size-weighted sums of the reported values, kept on the device."""

    def __init__(self, names: list[str]):
        self.names = names
        self.reset()

    def reset(self) -> None:
        self.totals: torch.Tensor | None = None
        self.seen = 0
        self.batches: list[torch.Tensor] = []

    def add(self, values: torch.Tensor, size: int) -> None:
        if self.totals is None:
            self.totals = values * size
        else:
            self.totals = torch.add(self.totals, values, alpha=size)
        self.seen += size
        self.batches.append(values)  # a reference, not a copy: read only if the loss breaks

    def first_nonfinite(self) -> tuple[int, float]:
        """The first batch whose loss was NaN or infinite, and that loss."""
        losses = torch.stack([values[0] for values in self.batches])
        bad = (~torch.isfinite(losses)).nonzero()
        index = int(bad[0, 0]) if len(bad) else -1
        return index, float(losses[index]) if index >= 0 else float("nan")

    def averages(self) -> dict[str, float]:
        if self.totals is None:
            return {}
        return dict(zip(self.names, (self.totals / self.seen).tolist(), strict=True))


# -- training -------------------------------------------------------------------------------


def train(
    model: Any,
    source: BatchSource,
    strategy: Strategy,
    nb_epoch: int,
    verbose: int,
    callbacks: Sequence[Callback] | None,
    validate: Callable[[], list[float]] | None,
    initial_epoch: int,
    params: dict[str, Any],
) -> History:
    """Run epochs ``initial_epoch .. nb_epoch - 1`` over ``source``; returns the History.

    In data parallel runs (the ``strategy``), steps go through DDP, epoch values are
    summed over ranks, and a stop asked for on any rank (mid-epoch ones included) takes
    effect on all of them at the epoch's end.
    """
    model._grad_flags.restore()  # before data parallel wrapping reads them
    verbose = strategy.verbosity(verbose)
    callbacks = strategy.callbacks(callbacks)
    names = list(model.metrics_names)
    model.history = History()
    stats = EpochStats(names)
    everything: list[Callback] = [*callbacks, model.history]
    if verbose:
        everything.append(ProgbarLogger())
    hooks = CallbackList(everything, stats)
    hooks.set_model(model)
    shown = names + [f"val_{n}" for n in names] if validate else names
    hooks.set_params(
        {
            **params,
            "nb_epoch": nb_epoch,
            "verbose": verbose,
            "do_validation": validate is not None,
            "metrics": shown,
        }
    )
    model.stop_training = False
    with modes.training(model, "fit"):
        hooks.on_train_begin()
        with strategy.training(model):
            try:
                _epochs(model, source, strategy, nb_epoch, initial_epoch, hooks, stats, validate)
            except KeyboardInterrupt:
                # Ctrl-C stops the program as in Keras 1, with the model usable and the
                # callbacks' files closed: inference mode first, then on_train_end.
                model.eval()
                hooks.on_train_end()
                raise
            finally:
                model.eval()
        hooks.on_train_end()
    return model.history


def _epochs(
    model: Any,
    source: BatchSource,
    strategy: Strategy,
    nb_epoch: int,
    initial_epoch: int,
    hooks: CallbackList,
    stats: EpochStats,
    validate: Callable[[], list[float]] | None,
) -> None:
    names = stats.names
    stops_mid_epoch = strategy.stops_mid_epoch
    for epoch in range(initial_epoch, nb_epoch):
        stats.reset()
        hooks.on_epoch_begin(epoch)
        model.train()
        with learning_phase_scope(1):
            for index, batch in enumerate(source.epoch()):
                _train_batch(model, index, batch, hooks, stats, names)
                if model.stop_training and stops_mid_epoch:
                    break
        strategy.reduce(stats, model.device)
        logs: dict[str, Any] = stats.averages()
        _report_broken_loss(epoch, logs, stats)
        if validate is not None:
            logs.update((f"val_{n}", v) for n, v in zip(names, validate(), strict=True))
        hooks.on_epoch_end(epoch, logs)
        model.stop_training = strategy.any_process(model.stop_training, model.device)
        if model.stop_training:
            break


def _train_batch(
    model: Any,
    index: int,
    batch: Batch,
    hooks: CallbackList,
    stats: EpochStats,
    names: list[str],
) -> None:
    size, inputs, targets, weights = batch
    if not hooks.listens_to_batches:
        stats.add(model._train_step(inputs, targets, weights), size)
        return
    logs: dict[str, Any] = {"batch": index, "size": size}
    hooks.on_batch_begin(index, logs)
    values = model._train_step(inputs, targets, weights)
    stats.add(values, size)
    if hooks.wants_batch_values:
        logs.update(zip(names, values.unbind(), strict=True))
    hooks.on_batch_end(index, logs)


def _report_broken_loss(epoch: int, logs: dict[str, Any], stats: EpochStats) -> None:
    if math.isfinite(logs.get("loss", 0.0)):
        return
    batch, value = stats.first_nonfinite()
    warnings.warn(
        f"Epoch {epoch + 1}: the loss became {value} at batch {batch}; the weights are "
        "probably ruined (lower the learning rate; TerminateOnNaN stops at such a batch)",
        RuntimeWarning,
        stacklevel=4,
    )


# -- evaluation and prediction ----------------------------------------------------------------


def evaluate(model: Any, source: BatchSource, strategy: Strategy, verbose: int = 0) -> list[float]:
    """The loss and metrics over one pass of ``source`` (this process's share), averaged
    over all processes."""
    stats = score(model, source, "evaluate", strategy.verbosity(verbose))
    strategy.reduce(stats, model.device)
    return list(stats.averages().values())


def score(model: Any, source: BatchSource, call: str, verbose: int = 0) -> EpochStats:
    """The sums of the loss and metrics over one pass of ``source``, in inference mode."""
    stats = EpochStats(list(model.metrics_names))
    progbar = Progbar(source.count or 0) if verbose == 1 else None
    with model._inference_call(call):
        for size, inputs, targets, weights in source.epoch():
            stats.add(model._test_step(inputs, targets, weights), size)
            if progbar is not None:
                progbar.update(stats.seen)
    return stats


def predict(model: Any, source: BatchSource, outputs: Any, call: str, verbose: int = 0) -> int:
    """Outputs of one pass of ``source`` into ``outputs``; returns the samples seen."""
    progbar = Progbar(source.count) if verbose == 1 and source.count else None
    seen = 0
    with model._inference_call(call):
        for size, inputs, _, _ in source.epoch():
            outputs.add(size, model._predict_batch(inputs))
            seen += size
            if progbar is not None:
                progbar.update(seen)
    return seen
