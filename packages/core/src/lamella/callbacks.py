"""Callbacks: code that runs at the start and end of training, epochs and batches.

The training loop keeps the running sums of the loss and metrics on the device
(``lamella.engine.loops.EpochStats``) and reads them only when something needs a
number: the progress bar when it redraws, the epoch logs once per epoch, and batch
logs only when a callback of yours listens to batches.  So a plain ``fit`` makes no host
synchronisation per batch.

The Keras 1 callbacks users pass to ``fit`` (ModelCheckpoint, EarlyStopping,
ReduceLROnPlateau, CSVLogger ...) follow Keras 1.2.2's rules and messages, which
print 0-based epoch numbers.
"""

from __future__ import annotations

import csv
import http.client
import json
import math
import os
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from lamella import backend
from lamella.utils.generic_utils import Progbar

if TYPE_CHECKING:
    from lamella.engine.loops import EpochStats

Logs = dict[str, Any]


class Callback:
    """Base class: override the hooks you need; ``self.model`` and ``self.params`` are set."""

    rank_zero_only = False  # True: under data-parallel training only rank 0 runs it (writers)

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
    """Whether ``hook`` does something: the class overrides it or the instance sets it.

    The loop skips batch hooks entirely (no per-batch work) when nothing listens.
    """
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


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
    """Prints ``Epoch i/N`` and Keras's progress bar (verbose 1) or epoch line (verbose 2).

    ``fit`` adds one when its ``verbose`` is not 0.

    Args:
        verbose: 1 for the progress bar, 2 for one line per epoch (default 1);
            the ``verbose`` that ``fit`` was given replaces it when training
            starts.
    """

    stats: EpochStats | None = None

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.verbose = self.params.get("verbose", self.verbose)
        self.nb_epoch = self.params["nb_epoch"]

    @property
    def target(self) -> int:
        """What the bar counts to: samples, or steps when the fit counts steps (Keras 2)."""
        return self.params.get("steps") or self.params["nb_sample"]

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        print(f"Epoch {epoch + 1}/{self.nb_epoch}")
        self.progbar = Progbar(target=self.target, verbose=self.verbose)
        self.seen = 0

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.seen += 1 if self.params.get("steps") else (logs or {}).get("size", 0)
        if self.verbose == 1 and self.seen < self.target and self.progbar.due(self.seen):
            averages = self.stats.averages() if self.stats else {}
            self.progbar.draw(self.seen, averages, force=True)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        shown = {k: logs[k] for k in self.params["metrics"] if k in logs}
        self.progbar.draw(self.target, shown, force=True)


class History(Callback):
    """Records the epoch logs: ``history.history['loss']`` is the loss of every epoch."""

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[Any]] = {}

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)


class _MonitorCallback(Callback):
    """The comparison shared by ModelCheckpoint, EarlyStopping and ReduceLROnPlateau.

    It reads ``monitor`` from the epoch logs and tells whether a value beats
    ``self.best`` by more than ``min_delta``.  Mode ``'auto'`` maximises quantities
    whose name contains ``'acc'`` or starts with ``'fmeasure'`` and minimises the
    rest, as Keras 1 does.
    """

    missing: str  # the warning when the logs lack ``monitor``: Keras 1's words, with %s

    def __init__(self, monitor: str, mode: str, min_delta: float):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode {mode} is unknown, fallback to auto mode.",
                RuntimeWarning,
                stacklevel=3,
            )
            mode = "auto"
        if mode == "auto":
            mode = "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self._reset_best()

    def _reset_best(self) -> None:
        self.best = -math.inf if self.mode == "max" else math.inf

    def _current(self, logs: Logs) -> float | None:
        """The monitored value, or None with a warning naming what the logs do hold."""
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"{self.missing % self.monitor} The epoch logs hold: {', '.join(sorted(logs))}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return value

    def _improves(self, value: float) -> bool:
        if self.mode == "max":
            return value - self.min_delta > self.best
        return value + self.min_delta < self.best


class ModelCheckpoint(_MonitorCallback):
    """Saves the model (or its weights) after every ``period`` epochs.

    ``filepath`` is formatted with the 0-based ``epoch`` and the epoch logs, e.g.
    ``'weights.{epoch:02d}-{val_loss:.2f}.h5'``.  With ``save_best_only`` a file is
    written only when ``monitor`` improves.  Files go through ``model.save`` /
    ``model.save_weights``, so the file's ending picks the format (``.h5`` needs
    lamella-io-hdf5); a format that cannot be written fails before the first epoch.

    Args:
        filepath: Where to save: a path, which may hold ``{epoch}`` and the names
            of the epoch logs as format fields.
        monitor: The name of the quantity watched in the epoch logs (default
            ``'val_loss'``, which needs validation data).
        verbose: 1 to print a line at each save (and, with ``save_best_only``,
            at each epoch that did not improve), 0 for silence (default 0).
        save_best_only: Whether to save only when ``monitor`` beats the best
            value seen so far (default False: save every ``period`` epochs).
        save_weights_only: Whether to save only the weights
            (``model.save_weights``) rather than the whole model (default False).
        mode: ``'min'`` (lower is better), ``'max'``, or ``'auto'`` (the
            default): ``'max'`` for a name that contains ``'acc'`` or starts with
            ``'fmeasure'``, ``'min'`` otherwise. Another value warns and means
            ``'auto'``.
        period: How many epochs pass between two checks (default 1: every
            epoch).
    """

    missing = "Can save best model only with %s available, skipping."
    rank_zero_only = True

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        period: int = 1,
    ):
        super().__init__(monitor, mode, 0.0)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.period = period
        self.epochs_since_last_save = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Fail now, not after an epoch of training, if no serializer can write the file."""
        from lamella.engine.saving import serializer_doing

        if "{" not in os.path.splitext(self.filepath)[1]:
            action = "save_weights" if self.save_weights_only else "save_model"
            serializer_doing(action, self.filepath)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        self.epochs_since_last_save += 1
        if self.epochs_since_last_save < self.period:
            return
        self.epochs_since_last_save = 0
        filepath = self._format(epoch, logs)
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"Epoch {epoch:05d}: saving model to {filepath}")
            self._save(filepath)
            return
        current = self._current(logs)
        if current is None:
            return
        if self._improves(current):
            if self.verbose > 0:
                print(
                    f"Epoch {epoch:05d}: {self.monitor} improved from {self.best:0.5f} "
                    f"to {current:0.5f}, saving model to {filepath}"
                )
            self.best = current
            self._save(filepath)
        elif self.verbose > 0:
            print(f"Epoch {epoch:05d}: {self.monitor} did not improve")

    def _format(self, epoch: int, logs: Logs) -> str:
        try:
            return self.filepath.format(epoch=epoch, **logs)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} names {error.args[0]!r}, which "
                f"is not in the epoch logs ({', '.join(['epoch', *sorted(logs)])}); "
                "val_* values need validation data"
            ) from None

    def _save(self, filepath: str) -> None:
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)


class EarlyStopping(_MonitorCallback):
    """Stops training when ``monitor`` has stopped improving by more than ``min_delta``.

    As in Keras 1, ``patience`` epochs without improvement are tolerated and training
    stops at the next one.  ``restore_best_weights`` (from Keras 2.2.3) puts back the
    weights of the best epoch when it stops.

    Args:
        monitor: The name of the quantity watched in the epoch logs (default
            ``'val_loss'``, which needs validation data).
        min_delta: The smallest change of ``monitor`` that counts as an
            improvement, in either direction (its absolute value is used; default
            0).
        patience: How many epochs without improvement are tolerated (default 0).
        verbose: 1 to print the epoch it stopped at, 0 for silence (default 0).
        mode: ``'min'`` (lower is better), ``'max'``, or ``'auto'`` (the
            default): ``'max'`` for a name that contains ``'acc'`` or starts with
            ``'fmeasure'``, ``'min'`` otherwise. Another value warns and means
            ``'auto'``.
        restore_best_weights: Whether to put back the weights of the best epoch
            when training stops early (default False: keep the last ones).
    """

    missing = "Early stopping requires %s available!"

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.restore_best_weights = restore_best_weights
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._reset_best()
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: list[Any] | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = self._current(logs or {})
        if current is None:
            return
        if self._improves(current):
            self.best = current
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.best_weights is not None:
                if self.verbose > 0:
                    print("Restoring model weights from the end of the best epoch")
                self.model.set_weights(self.best_weights)
        self.wait += 1

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch:05d}: early stopping")


class LearningRateScheduler(Callback):
    """Sets the learning rate to ``schedule(epoch)`` (0-based) at the start of each epoch.

    Args:
        schedule: A function of the epoch index, counted from 0, that returns the
            learning rate as a float.
    """

    def __init__(self, schedule: Callable[[int], float]):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if not hasattr(self.model.optimizer, "lr"):
            raise ValueError('Optimizer must have a "lr" attribute.')
        lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(
                f'The output of the "schedule" function should be float: schedule({epoch}) '
                f"returned {lr!r} ({type(lr).__name__})"
            )
        backend.set_value(self.model.optimizer.lr, float(lr))


class ReduceLROnPlateau(_MonitorCallback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stops improving.

    As in Keras 1: after ``patience`` epochs without an improvement larger than
    ``epsilon`` the next one lowers the rate (never below ``min_lr``), then
    ``cooldown`` epochs pass before counting again.  Each epoch's rate is logged
    as ``lr`` (so History and CSVLogger record it).

    Args:
        monitor: The name of the quantity watched in the epoch logs (default
            ``'val_loss'``, which needs validation data).
        factor: What the learning rate is multiplied by, below 1 (default 0.1).
        patience: How many epochs without improvement are tolerated (default 10).
        verbose: 1 to print a line when it acts, 0 for silence (default 0).
        mode: ``'min'`` (lower is better), ``'max'``, or ``'auto'`` (the
            default): ``'max'`` for a name that contains ``'acc'`` or starts with
            ``'fmeasure'``, ``'min'`` otherwise. Another value warns and means
            ``'auto'``.
        epsilon: The smallest change of ``monitor`` that counts as an
            improvement (default 1e-4).
        cooldown: How many epochs to wait after a reduction before counting
            epochs without improvement again (default 0).
        min_lr: The learning rate is never lowered below this (default 0).
    """

    missing = "Learning Rate Plateau Reducing requires %s available!"

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        epsilon: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0,
    ):
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0.")
        super().__init__(monitor, mode, epsilon)
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.epsilon = epsilon
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._reset_best()
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        lr = self.model.optimizer.lr
        logs["lr"] = float(backend.get_value(lr))
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            if self.wait >= self.patience and logs["lr"] > self.min_lr * (1 + 1e-4):
                new_lr = max(logs["lr"] * self.factor, self.min_lr)
                backend.set_value(lr, new_lr)
                if self.verbose > 0:
                    print(f"\nEpoch {epoch:05d}: reducing learning rate to {new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0
            self.wait += 1


class CSVLogger(Callback):
    """Writes one row per finished epoch: ``epoch`` then the sorted log keys.

    Each row is written and the file closed as the epoch ends, so a crash or an
    interrupt keeps every finished epoch.  ``append`` continues an existing file
    (without a second header).

    Args:
        filename: The path of the CSV file.
        separator: The string between two values of a row (default ``','``).
        append: Whether to add to an existing file instead of starting it afresh
            (default False).
    """

    rank_zero_only = True

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.keys = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as file:
                self.append_header = not file.readline()
        else:
            self.append_header = True
            open(self.filename, "w", encoding="utf-8").close()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        with open(self.filename, "a", newline="", encoding="utf-8") as file:
            writer = csv.writer(file, delimiter=self.sep)
            if self.keys is None:
                self.keys = sorted(logs)
                if self.append_header:
                    writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch, *(logs.get(key, "") for key in self.keys)])


class LambdaCallback(Callback):
    """A callback made of the functions you pass, e.g. ``on_epoch_end=lambda epoch, logs: ...``.

    Only the hooks you give are installed (on the instance), so a LambdaCallback
    without batch functions keeps the training loop free of per-batch work.
    Extra keyword arguments become attributes, as in Keras.

    Args:
        on_epoch_begin: Called with ``(epoch, logs)`` as each epoch starts
            (default None: nothing).
        on_epoch_end: Called with ``(epoch, logs)`` as each epoch ends
            (default None: nothing).
        on_batch_begin: Called with ``(batch, logs)`` before each batch
            (default None: nothing).
        on_batch_end: Called with ``(batch, logs)`` after each batch
            (default None: nothing).
        on_train_begin: Called with ``(logs)`` as training starts
            (default None: nothing).
        on_train_end: Called with ``(logs)`` as training ends
            (default None: nothing).
        **kwargs: Set as attributes of the callback.
    """

    def __init__(
        self,
        on_epoch_begin: Callable[[int, Logs], Any] | None = None,
        on_epoch_end: Callable[[int, Logs], Any] | None = None,
        on_batch_begin: Callable[[int, Logs], Any] | None = None,
        on_batch_end: Callable[[int, Logs], Any] | None = None,
        on_train_begin: Callable[[Logs], Any] | None = None,
        on_train_end: Callable[[Logs], Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__()
        self.__dict__.update(kwargs)
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
        }
        self.__dict__.update((hook, fn) for hook, fn in given.items() if fn is not None)


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite.

    It reads every batch's loss, which costs one device-to-host synchronisation
    per batch; without it the loop only warns, at the end of the epoch.
    """

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class RemoteMonitor(Callback):
    """POSTs each epoch's logs to ``root + path`` as JSON in the form field ``field``.

    The body is ``field=<JSON of {'epoch': epoch, **logs}>``, form-encoded as
    Keras's ``requests.post(url, {field: json})`` sent it.  A server that cannot be
    reached gives a warning; training goes on.  Uses only the standard library.

    Args:
        root: The server's address (default ``'http://localhost:9000'``).
        path: The path on that server the logs are sent to (default
            ``'/publish/epoch/end/'``).
        field: The name of the form field that holds the JSON (default
            ``'data'``).
        headers: HTTP headers added to each request (default: none).
    """

    rank_zero_only = True

    timeout = 10.0  # seconds to wait for the server at each epoch

    def __init__(
        self,
        root: str = "http://localhost:9000",
        path: str = "/publish/epoch/end/",
        field: str = "data",
        headers: dict[str, str] | None = None,
    ):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = dict(headers or {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        send = {"epoch": epoch, **(logs or {})}
        body = urllib.parse.urlencode({self.field: json.dumps(send, default=_plain)}).encode()
        request = urllib.request.Request(
            self.root + self.path, data=body, headers=self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):
                pass
        except (OSError, http.client.HTTPException) as error:
            warnings.warn(
                f"could not reach RemoteMonitor root server at {self.root} ({error})",
                RuntimeWarning,
                stacklevel=2,
            )


def _plain(value: Any) -> Any:
    """numpy and torch values as plain Python numbers or lists, for JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class TensorBoard(Callback):
    """Writes the epoch logs (and optionally weight histograms) for TensorBoard.

    Uses ``torch.utils.tensorboard``, which needs ``pip install tensorboard``.
    ``histogram_freq``: every that many epochs, a histogram of each weight (and,
    with ``write_images``, each 2-D weight as a grayscale image).  ``write_graph``
    writes the model's architecture (its Keras JSON) as text: TensorBoard's graph
    view needs a traced graph, which a callback cannot build without inputs.

    Args:
        log_dir: The folder the event files go to, which TensorBoard is pointed
            at (default ``'./logs'``).
        histogram_freq: How many epochs between two sets of weight histograms
            (default 0: none).
        write_graph: Whether to write the model's architecture (default True).
        write_images: Whether to write each 2-D weight as an image along with
            its histogram (default False).
    """

    rank_zero_only = True

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "./logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
    ):
        super().__init__()
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                "The TensorBoard callback writes through torch.utils.tensorboard, which "
                f"needs the tensorboard package ({error}). Install it with: pip install "
                "tensorboard"
            ) from error
        self._writer_class = SummaryWriter
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.writer: Any = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.writer = self._writer_class(self.log_dir)
        if self.write_graph:
            self.writer.add_text("model", self.model.to_json(), 0)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for name, value in (logs or {}).items():
            if name not in ("batch", "size"):
                self.writer.add_scalar(name, float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for index, weight in enumerate(self.model.weights):
                name = getattr(weight, "_keras_name", None) or f"weight_{index}"
                values = weight.detach().float().cpu()
                self.writer.add_histogram(name, values, epoch)
                if self.write_images and values.ndim == 2:
                    span = (values.max() - values.min()).clamp_min(1e-12)
                    image = (values - values.min()) / span
                    self.writer.add_image(name, image, epoch, dataformats="HW")
        self.writer.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        self.writer.close()
