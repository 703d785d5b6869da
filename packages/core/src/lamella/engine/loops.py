"""The training loop shared by ``fit`` and ``fit_generator``: epochs, batches, callbacks."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lamella.backend.state import learning_phase_scope
from lamella.callbacks import Callback, CallbackList, EpochStats, History, ProgbarLogger
from lamella.engine import distributed, modes
from lamella.engine.batches import Batch


class BatchSource(Protocol):
    def epoch(self) -> Any: ...


def train(
    model: Any,
    source: BatchSource,
    nb_epoch: int,
    verbose: int,
    callbacks: Sequence[Callback] | None,
    validate: Callable[[], list[float]] | None,
    initial_epoch: int,
    params: dict[str, Any],
) -> History:
    """Run epochs ``initial_epoch .. nb_epoch - 1`` over ``source``; returns the History.

    Data parallel (see :mod:`lamella.engine.distributed`) is decided here once: steps
    go through DDP, epoch values are summed over ranks, and a stop asked for on any
    rank (mid-epoch ones included) takes effect on all of them at the epoch's end.
    """
    parallel = distributed.active()
    if parallel:
        verbose = distributed.verbosity(verbose)
        callbacks = distributed.for_this_rank(callbacks or [])
    names = list(model.metrics_names)
    model.history = History()
    stats = EpochStats(names)
    everything: list[Callback] = [*(callbacks or []), model.history]
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
        if parallel:
            distributed.data_parallel(model)
        try:
            _epochs(model, source, nb_epoch, initial_epoch, hooks, stats, names, validate)
        except RuntimeError as error:
            if not parallel:
                raise
            explained = distributed.explain_failure(error)
            if explained is error:
                raise
            raise explained from error
        except KeyboardInterrupt:
            # Ctrl-C stops the program as in Keras 1, with the model usable and the
            # callbacks' files closed: inference mode first, then on_train_end.
            model.eval()
            hooks.on_train_end()
            raise
        finally:
            model.eval()
            if parallel:
                distributed.release(model)
        hooks.on_train_end()
    return model.history


def _epochs(
    model: Any,
    source: BatchSource,
    nb_epoch: int,
    initial_epoch: int,
    hooks: CallbackList,
    stats: EpochStats,
    names: list[str],
    validate: Callable[[], list[float]] | None,
) -> None:
    parallel = distributed.active()
    for epoch in range(initial_epoch, nb_epoch):
        stats.reset()
        hooks.on_epoch_begin(epoch)
        model.train()
        with learning_phase_scope(1):
            for index, batch in enumerate(source.epoch()):
                _train_batch(model, index, batch, hooks, stats, names)
                if model.stop_training and not parallel:
                    break
        if parallel:
            distributed.reduce_stats(stats, model.device)
        logs: dict[str, Any] = stats.averages()
        _report_broken_loss(epoch, logs, stats)
        if validate is not None:
            logs.update((f"val_{n}", v) for n, v in zip(names, validate(), strict=True))
        hooks.on_epoch_end(epoch, logs)
        if parallel:
            model.stop_training = distributed.any_rank(model.stop_training, model.device)
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
