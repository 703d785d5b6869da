"""Keras 1 callbacks, driven by real ``fit`` calls and by scripted epoch logs.

Scripted logs (a stub model and ``on_epoch_end(epoch, logs)`` called by hand) give
exact expectations worked out from Keras 1.2.2's rules; the ``fit`` tests check
that the loop calls the hooks with the logs those rules need.
"""

from __future__ import annotations

import csv
import http.server
import json
import math
import socket
import sys
import threading
import urllib.parse
from typing import Any

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella import plugins
from lamella.callbacks import (
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    RemoteMonitor,
    TensorBoard,
    TerminateOnNaN,
)
from lamella.layers import Dense
from lamella.models import Sequential
from lamella.plugins import MissingPluginError, Serializer


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


def regression(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return x, y


def linear(lr: float = 0.01) -> Sequential:
    torch.manual_seed(0)
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(optimizer=fixed_sgd(lr), loss="mse")
    return model


class StubModel:
    """Records what callbacks do to a model: saves, stop_training, its learning rate."""

    def __init__(self, lr: float = 0.1):
        self.saved: list[tuple[str, str]] = []
        self.stop_training = False
        self.optimizer = type("Opt", (), {"lr": torch.tensor(lr, dtype=torch.float64)})()
        self.weights = [np.zeros(2)]

    def save(self, filepath: str, overwrite: bool = True) -> None:
        self.saved.append(("model", filepath))

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        self.saved.append(("weights", filepath))

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.weights = weights


def drive(callback: Any, model: StubModel, values: list[float], key: str = "val_loss") -> int:
    """Feed scripted epoch logs until the callback stops training; the epochs run."""
    callback.set_model(model)
    callback.on_train_begin({})
    epochs = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end({})
    return epochs


@pytest.fixture
def fake_format():
    """A '.fake' file format whose writers only record what they were asked to write."""
    written: list[tuple[str, str]] = []
    serializer = Serializer(
        name="fake",
        extensions=(".fake",),
        save_model=lambda model, path, overwrite: written.append(("model", path)),
        save_weights=lambda model, path, overwrite: written.append(("weights", path)),
    )
    plugins.register("serializers", serializer, name="fake", aliases=(".fake",))
    try:
        yield written
    finally:
        plugins.unregister("serializers", "fake")


# -- ModelCheckpoint ----------------------------------------------------------------------


def test_checkpoint_names_files_from_epoch_and_logs(tmp_path, fake_format):
    x, y = regression()
    model = linear()
    pattern = str(tmp_path / "weights.{epoch:02d}-{val_loss:.2f}.fake")
    history = model.fit(
        x,
        y,
        nb_epoch=3,
        batch_size=8,
        verbose=0,
        validation_data=(x[:4], y[:4]),
        callbacks=[ModelCheckpoint(pattern, save_weights_only=True)],
    )
    expected = [
        ("weights", str(tmp_path / f"weights.{epoch:02d}-{loss:.2f}.fake"))
        for epoch, loss in zip([0, 1, 2], history.history["val_loss"], strict=True)
    ]
    assert fake_format == expected


def test_checkpoint_saves_the_whole_model_by_default(tmp_path, fake_format):
    x, y = regression()
    path = str(tmp_path / "model.fake")
    linear().fit(x, y, nb_epoch=2, verbose=0, callbacks=[ModelCheckpoint(path, monitor="loss")])
    assert fake_format == [("model", path), ("model", path)]


def test_checkpoint_save_best_only_follows_the_monitored_value(capsys, fake_format):
    model = StubModel()
    checkpoint = ModelCheckpoint("best-{epoch}.fake", save_best_only=True, verbose=1)
    drive(checkpoint, model, [1.0, 0.8, 0.9, 0.5, 0.5, 0.49])
    assert model.saved == [("model", f"best-{e}.fake") for e in (0, 1, 3, 5)]
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 00000: val_loss improved from inf to 1.00000, saving model to best-0.fake",
        "Epoch 00001: val_loss improved from 1.00000 to 0.80000, saving model to best-1.fake",
        "Epoch 00002: val_loss did not improve",
        "Epoch 00003: val_loss improved from 0.80000 to 0.50000, saving model to best-3.fake",
        "Epoch 00004: val_loss did not improve",
        "Epoch 00005: val_loss improved from 0.50000 to 0.49000, saving model to best-5.fake",
    ]


@pytest.mark.parametrize(
    ("monitor", "mode", "saved_epochs"),
    [
        ("val_loss", "auto", [0, 2]),  # minimised
        ("val_acc", "auto", [0, 1, 3]),  # 'acc' in the name: maximised
        ("fmeasure", "auto", [0, 1, 3]),
        ("val_loss", "max", [0, 1, 3]),
        ("val_acc", "min", [0, 2]),
    ],
)
def test_checkpoint_mode_picks_the_direction(monitor, mode, saved_epochs, fake_format):
    model = StubModel()
    checkpoint = ModelCheckpoint("m{epoch}.fake", monitor=monitor, mode=mode, save_best_only=True)
    drive(checkpoint, model, [0.5, 0.6, 0.4, 0.7], key=monitor)
    assert model.saved == [("model", f"m{e}.fake") for e in saved_epochs]


def test_checkpoint_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(RuntimeWarning, match="ModelCheckpoint mode maximum is unknown"):
        checkpoint = ModelCheckpoint("m.fake", monitor="val_acc", mode="maximum")
    assert checkpoint.mode == "max"


def test_checkpoint_period_saves_every_nth_epoch(capsys, fake_format):
    model = StubModel()
    checkpoint = ModelCheckpoint("p{epoch}.fake", period=2, verbose=1, save_weights_only=True)
    drive(checkpoint, model, [1.0] * 5)
    assert model.saved == [("weights", "p1.fake"), ("weights", "p3.fake")]
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 00001: saving model to p1.fake",
        "Epoch 00003: saving model to p3.fake",
    ]


def test_checkpoint_missing_monitor_warns_and_skips():
    model = StubModel()
    checkpoint = ModelCheckpoint("m.h5", save_best_only=True)
    checkpoint.set_model(model)
    with pytest.warns(RuntimeWarning, match=r"only with val_loss available.*hold: loss"):
        checkpoint.on_epoch_end(0, {"loss": 0.3})
    assert model.saved == []


def test_checkpoint_filepath_naming_an_absent_value_says_which():
    checkpoint = ModelCheckpoint("w-{val_acc:.2f}.h5")
    checkpoint.set_model(StubModel())
    with pytest.raises(KeyError, match=r"names 'val_acc'.*epoch, loss"):
        checkpoint.on_epoch_end(0, {"loss": 0.3})


def test_checkpoint_fails_before_training_when_the_format_cannot_save(tmp_path):
    weights_only = Serializer(
        name="wonly", extensions=(".wonly",), save_weights=lambda model, path, overwrite: None
    )
    plugins.register("serializers", weights_only, name="wonly", aliases=(".wonly",))
    try:
        x, y = regression()
        epochs: list[int] = []
        counter = LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
        callbacks = [ModelCheckpoint(str(tmp_path / "m{epoch}.wonly")), counter]
        with pytest.raises(NotImplementedError, match="cannot save model"):
            linear().fit(x, y, nb_epoch=2, verbose=0, callbacks=callbacks)
        assert epochs == []
    finally:
        plugins.unregister("serializers", "wonly")


def test_checkpoint_to_h5_without_the_plugin_names_the_install(tmp_path):
    if plugins.available(".h5", "serializers"):
        pytest.skip("lamella-io-hdf5 registers .h5 here")
    x, y = regression()
    checkpoint = ModelCheckpoint(str(tmp_path / "weights.{epoch:02d}.h5"))
    with pytest.raises(MissingPluginError, match=r"pip install (-U )?lamella-io-hdf5"):
        linear().fit(x, y, nb_epoch=1, verbose=0, callbacks=[checkpoint])


# -- EarlyStopping -----------------------------------------------------------------------


def test_early_stopping_waits_patience_epochs_beyond_min_delta(capsys):
    # best: 1.0 (epoch 0), 0.85 (epoch 2: beats 1.0 by more than 0.1); epochs 3, 4
    # are the two tolerated ones, epoch 5 is the third without improvement: stop.
    model = StubModel()
    stopper = EarlyStopping(min_delta=0.1, patience=2, verbose=1)
    values = [1.0, 0.95, 0.85, 0.80, 0.79, 0.76, 0.1]
    assert drive(stopper, model, values) == 6
    assert stopper.stopped_epoch == 5
    assert capsys.readouterr().out == "Epoch 00005: early stopping\n"


def test_early_stopping_patience_zero_stops_at_the_first_epoch_without_improvement():
    model = StubModel()
    assert drive(EarlyStopping(), model, [0.9, 0.8, 0.8, 0.7]) == 3


def test_early_stopping_maximises_accuracy_in_auto_mode():
    model = StubModel()
    stopper = EarlyStopping(monitor="val_acc", patience=1)
    assert drive(stopper, model, [0.5, 0.6, 0.55, 0.6, 0.9], key="val_acc") == 4


def test_early_stopping_restores_the_best_weights():
    model = StubModel()
    stopper = EarlyStopping(restore_best_weights=True)
    stopper.set_model(model)
    stopper.on_train_begin({})
    for epoch, loss in enumerate([0.5, 0.4, 0.6]):
        model.weights = [np.full(2, float(epoch))]
        stopper.on_epoch_end(epoch, {"val_loss": loss})
    assert model.stop_training
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])


def test_early_stopping_ends_a_fit_whose_val_loss_cannot_improve(capsys):
    x, y = regression()
    model = linear(lr=0.0)
    history = model.fit(
        x,
        y,
        nb_epoch=10,
        verbose=0,
        validation_data=(x, y),
        callbacks=[EarlyStopping(patience=1, verbose=1)],
    )
    assert history.epoch == [0, 1, 2]
    assert capsys.readouterr().out == "Epoch 00002: early stopping\n"


def test_early_stopping_warns_when_the_monitor_is_missing():
    model = StubModel()
    with pytest.warns(RuntimeWarning, match="Early stopping requires val_loss available"):
        assert drive(EarlyStopping(), model, [0.5, 0.5], key="loss") == 2


# -- LearningRateScheduler ---------------------------------------------------------------


def test_scheduler_sets_the_rate_and_sgd_follows_it():
    x, y = regression(n=8)
    model = linear(lr=0.5)
    w0, b0 = (w.astype("float64") for w in model.get_weights())
    schedule = [0.25, 0.125, 0.0625]  # exact in float32 and float64
    seen: list[float] = []
    watcher = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(float(K.get_value(model.optimizer.lr)))
    )
    scheduler = LearningRateScheduler(lambda epoch: schedule[epoch])
    model.fit(x, y, nb_epoch=3, batch_size=8, verbose=0, callbacks=[scheduler, watcher])
    assert seen == schedule

    xd, yd = x.astype("float64"), y.astype("float64")
    w, b = w0, b0
    for lr in schedule:  # one full batch per epoch: gradient of mean((xw + b - y)^2)
        residual = xd @ w + b - yd
        w = w - lr * 2 * xd.T @ residual / len(xd)
        b = b - lr * 2 * residual.mean(axis=0)
    got_w, got_b = model.get_weights()
    np.testing.assert_allclose(got_w, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("value", [1, "0.1", None])
def test_scheduler_rejects_a_non_float_rate(value):
    scheduler = LearningRateScheduler(lambda epoch: value)
    scheduler.set_model(StubModel())
    with pytest.raises(ValueError, match=r"should be float: schedule\(0\) returned"):
        scheduler.on_epoch_begin(0, {})


# -- ReduceLROnPlateau -------------------------------------------------------------------


def rates(callback: ReduceLROnPlateau, values: list[float]) -> list[float]:
    """The logged rate of each epoch, fed scripted val_loss values."""
    model = StubModel(lr=1.0)  # rates are powers of two: exact in float32 and float64
    callback.set_model(model)
    callback.on_train_begin({})
    logged = []
    for epoch, value in enumerate(values):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        logged.append(logs["lr"])
    return [*logged, float(model.optimizer.lr)]


def test_plateau_reduces_after_patience_then_every_epoch_without_cooldown(capsys):
    callback = ReduceLROnPlateau(factor=0.5, patience=1, verbose=1)
    assert rates(callback, [1.0] * 5) == [1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    assert capsys.readouterr().out.splitlines() == [
        "",
        "Epoch 00002: reducing learning rate to 0.5.",
        "",
        "Epoch 00003: reducing learning rate to 0.25.",
        "",
        "Epoch 00004: reducing learning rate to 0.125.",
    ]


def test_plateau_cooldown_and_min_lr():
    callback = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.1875)
    got = rates(callback, [1.0] * 9)
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.1875, 0.1875, 0.1875]


def test_plateau_improvements_beyond_epsilon_reset_the_wait():
    callback = ReduceLROnPlateau(factor=0.5, patience=1, epsilon=0.1)
    # 0.95 beats 1.0 by less than epsilon; 0.85 by more, which resets the wait;
    # 0.8 and 0.78 do not beat 0.85 by epsilon, so the second of them lowers the rate.
    got = rates(callback, [1.0, 0.95, 0.85, 0.8, 0.78])
    assert got == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]


def test_plateau_rejects_a_factor_that_would_not_reduce():
    with pytest.raises(ValueError, match=r"factor >= 1\.0"):
        ReduceLROnPlateau(factor=1.0)


def test_plateau_lowers_the_rate_the_optimizer_uses():
    x, y = regression()
    model = linear(lr=0.5)
    flat = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(flat=1.0))
    callback = ReduceLROnPlateau(monitor="flat", factor=0.5, patience=0)
    history = model.fit(x, y, nb_epoch=3, verbose=0, callbacks=[flat, callback])
    assert history.history["lr"] == [0.5, 0.5, 0.25]  # lowered at the ends of epochs 1 and 2
    assert model.optimizer.torch_optimizer.param_groups[0]["lr"] == 0.25  # what epoch 2 used
    assert K.get_value(model.optimizer.lr) == 0.125


# -- CSVLogger ---------------------------------------------------------------------------


def read_csv(path, separator: str = ",") -> list[list[str]]:
    with open(path, newline="") as file:
        return list(csv.reader(file, delimiter=separator))


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    x, y = regression()
    path = tmp_path / "log.csv"
    model = linear()
    history = model.fit(
        x,
        y,
        nb_epoch=3,
        verbose=0,
        validation_data=(x[:4], y[:4]),
        callbacks=[CSVLogger(path, separator=";")],
    )
    rows = read_csv(path, ";")
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == history.history["loss"]
    assert [float(r[2]) for r in rows[1:]] == history.history["val_loss"]


def test_csv_logger_append_continues_the_file_with_one_header(tmp_path):
    x, y = regression()
    path = tmp_path / "log.csv"
    model = linear()
    model.fit(x, y, nb_epoch=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    model.fit(
        x, y, nb_epoch=4, initial_epoch=2, verbose=0, callbacks=[CSVLogger(path, append=True)]
    )
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    model.fit(x, y, nb_epoch=1, verbose=0, callbacks=[CSVLogger(path)])
    assert [r[0] for r in read_csv(path)] == ["epoch", "0"]


def test_csv_logger_keeps_finished_epochs_when_training_crashes(tmp_path):
    x, y = regression()
    path = tmp_path / "log.csv"

    def crash(epoch, logs):
        if epoch == 1:
            raise RuntimeError("power cut")

    callbacks = [CSVLogger(path), LambdaCallback(on_epoch_end=crash)]
    with pytest.raises(RuntimeError, match="power cut"):
        linear().fit(x, y, nb_epoch=5, verbose=0, callbacks=callbacks)
    assert [r[0] for r in read_csv(path)] == ["epoch", "0", "1"]


# -- LambdaCallback ----------------------------------------------------------------------


def test_lambda_callback_hooks_run_in_order_with_their_logs():
    x, y = regression(n=4)
    calls: list[tuple] = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, logs["size"])),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end",)),
    )
    linear().fit(x, y, nb_epoch=2, batch_size=3, shuffle=False, verbose=0, callbacks=[callback])
    epoch = lambda e: [  # noqa: E731
        ("epoch_begin", e),
        ("batch_begin", 0, 3),
        ("batch_end", 0, ["batch", "loss", "size"]),
        ("batch_begin", 1, 1),
        ("batch_end", 1, ["batch", "loss", "size"]),
        ("epoch_end", e, ["loss"]),
    ]
    assert calls == [("train_begin",), *epoch(0), *epoch(1), ("train_end",)]


def test_lambda_callback_without_batch_hooks_keeps_the_loop_off_batches():
    epochs_only = LambdaCallback(on_epoch_end=lambda epoch, logs: None, note="kept")
    assert epochs_only.note == "kept"
    hooks = CallbackList([epochs_only])
    assert not hooks.listens_to_batches
    assert not hooks.wants_batch_values
    hooks = CallbackList([LambdaCallback(on_batch_end=lambda batch, logs: None)])
    assert hooks.listens_to_batches and hooks.wants_batch_values


# -- TerminateOnNaN ----------------------------------------------------------------------


def test_terminate_on_nan_stops_at_the_first_broken_batch(capsys):
    x, y = regression(n=40)
    losses: list[float] = []
    record = LambdaCallback(on_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
    model = linear(lr=1e20)
    with pytest.warns(RuntimeWarning, match="the loss became"):
        history = model.fit(
            x,
            y,
            nb_epoch=3,
            batch_size=4,
            shuffle=False,
            verbose=0,
            callbacks=[record, TerminateOnNaN()],
        )
    assert history.epoch == [0]
    assert 1 < len(losses) < 10  # 10 batches per epoch
    assert all(math.isfinite(v) for v in losses[:-1]) and not math.isfinite(losses[-1])
    assert (
        capsys.readouterr().out == f"Batch {len(losses) - 1}: Invalid loss, terminating training\n"
    )


# -- RemoteMonitor -----------------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.append(
            {"path": self.path, "type": self.headers["Content-Type"], "form": body}
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_remote_monitor_posts_each_epochs_logs():
    received: list[dict[str, Any]] = []
    handler = type("Handler", (Recorder,), {"received": received})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        root = f"http://127.0.0.1:{server.server_address[1]}"
        monitor = RemoteMonitor(root=root, path="/epochs", field="payload")
        monitor.timeout = 5
        x, y = regression()
        history = linear().fit(
            x, y, nb_epoch=2, verbose=0, validation_data=(x, y), callbacks=[monitor]
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert [r["path"] for r in received] == ["/epochs", "/epochs"]
    assert received[0]["type"] == "application/x-www-form-urlencoded"
    sent = [json.loads(urllib.parse.parse_qs(r["form"])["payload"][0]) for r in received]
    assert sent == [
        {"epoch": epoch, "loss": loss, "val_loss": val_loss}
        for epoch, loss, val_loss in zip(
            history.epoch, history.history["loss"], history.history["val_loss"], strict=True
        )
    ]


def test_remote_monitor_warns_when_the_server_is_down():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monitor = RemoteMonitor(root=f"http://127.0.0.1:{port}")
    monitor.timeout = 5
    x, y = regression()
    with pytest.warns(RuntimeWarning, match="could not reach RemoteMonitor root server"):
        history = linear().fit(x, y, nb_epoch=2, verbose=0, callbacks=[monitor])
    assert history.epoch == [0, 1]


# -- TensorBoard -------------------------------------------------------------------------


def test_tensorboard_without_the_package_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoard()


def test_tensorboard_writes_the_epoch_logs(tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = regression()
    model = linear()
    history = model.fit(
        x,
        y,
        nb_epoch=3,
        verbose=0,
        validation_data=(x, y),
        callbacks=[TensorBoard(log_dir=str(tmp_path), histogram_freq=1, write_images=True)],
    )
    events = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0, "images": 0})
    events.Reload()
    for name in ("loss", "val_loss"):
        scalars = events.Scalars(name)
        assert [s.step for s in scalars] == [0, 1, 2]
        np.testing.assert_allclose([s.value for s in scalars], history.history[name], rtol=1e-6)
    histograms = events.Histograms("dense_1_W")
    assert [h.step for h in histograms] == [0, 1, 2]
    kernel = model.get_weights()[0]
    last = histograms[-1].histogram_value
    assert (last.min, last.max, last.num) == pytest.approx((kernel.min(), kernel.max(), 3))
    assert [i.step for i in events.Images("dense_1_W")] == [0, 1, 2]
