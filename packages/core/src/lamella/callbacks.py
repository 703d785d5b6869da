"""Callbacks: code that runs at the start and end of training, epochs and batches.

The training loop keeps the running sums of the loss and metrics on the device
(:class:`EpochStats`) and reads them only when something needs a number: the
progress bar when it redraws, the epoch logs once per epoch, and batch logs only
when a callback of yours listens to batches.  So a plain ``fit`` makes no host
synchronisation per batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from lamella.utils.generic_utils import Progbar

Logs = dict[str, Any]


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
        weighted = values * size
        self.totals = weighted if self.totals is None else self.totals + weighted
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


class Callback:
    """Base class: override the hooks you need; ``self.model`` and ``self.params`` are set."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        pass

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_train_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_train_end(self, logs: Logs | None = None) -> None:
        pass


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Calls each hook on the callbacks that define it, in order."""

    def __init__(self, callbacks: Iterable[Callback] = (), stats: EpochStats | None = None):
        self.callbacks = list(callbacks)
        self.stats = stats
        for callback in self.callbacks:
            if isinstance(callback, (BaseLogger, ProgbarLogger)):
                callback.stats = stats
        self._batch_begin = [c for c in self.callbacks if _overrides(c, "on_batch_begin")]
        self._batch_end = [c for c in self.callbacks if _overrides(c, "on_batch_end")]
        self.wants_batch_values = any(
            not isinstance(c, (BaseLogger, ProgbarLogger)) for c in self._batch_end
        )
        self.listens_to_batches = bool(self._batch_begin or self._batch_end)

    def append(self, callback: Callback) -> None:
        self.__init__([*self.callbacks, callback], self.stats)  # type: ignore[misc]

    def set_params(self, params: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model: Any) -> None:
        for callback in self.callbacks:
            callback.set_model(model)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs if logs is not None else {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs if logs is not None else {})

    def on_batch_begin(self, batch: int, logs: Logs) -> None:
        for callback in self._batch_begin:
            callback.on_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        for callback in self._batch_end:
            callback.on_batch_end(batch, logs)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_train_begin(logs if logs is not None else {})

    def on_train_end(self, logs: Logs | None = None) -> None:
        for callback in self.callbacks:
            callback.on_train_end(logs if logs is not None else {})


class BaseLogger(Callback):
    """Puts the epoch averages (weighted by batch size) into the epoch logs.

    ``fit`` fills those averages itself; this class is kept for Keras code that
    builds its callback lists by hand.
    """

    stats: EpochStats | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None and self.stats is not None:
            for name, value in self.stats.averages().items():
                logs.setdefault(name, value)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/N`` and Keras's progress bar (verbose 1) or epoch line (verbose 2)."""

    stats: EpochStats | None = None

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.verbose = self.params.get("verbose", self.verbose)
        self.nb_epoch = self.params["nb_epoch"]

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        print(f"Epoch {epoch + 1}/{self.nb_epoch}")
        self.progbar = Progbar(target=self.params["nb_sample"], verbose=self.verbose)
        self.seen = 0

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.seen += (logs or {}).get("size", 0)
        if self.verbose == 1 and self.seen < self.params["nb_sample"]:
            if self.progbar.due(self.seen):
                averages = self.stats.averages() if self.stats else {}
                self.progbar.draw(self.seen, averages, force=True)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        shown = {k: logs[k] for k in self.params["metrics"] if k in logs}
        self.progbar.draw(self.params["nb_sample"], shown, force=True)


class History(Callback):
    """Records the epoch logs: ``history.history['loss']`` is the loss of every epoch."""

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[Any]] = {}

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
