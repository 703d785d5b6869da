"""compile / fit / evaluate / predict, checked against a hand-written PyTorch loop."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.callbacks import Callback
from lamella.engine import Layer
from lamella.layers import Activation, Dense, Dropout, Input, merge
from lamella.models import Model, Sequential
from lamella.plugins import MissingPluginError, UnknownNameError

EPS = 1e-7


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


def data(n: int = 50, features: int = 4, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = np.eye(classes, dtype="float32")[rng.integers(classes, size=n)]
    return x, y


def classifier() -> Sequential:
    torch.manual_seed(0)
    return Sequential([Dense(8, input_dim=4, activation="relu"), Dense(3, activation="softmax")])


def reference_loop(weights, x, y, epochs, batch_size, lr, shuffle_seed=None):
    """The same maths written by hand: Linear layers, clipped crossentropy, plain SGD."""
    w1, b1, w2, b2 = (torch.tensor(w, requires_grad=True) for w in weights)
    xt, yt = torch.tensor(x), torch.tensor(y)
    optimizer = torch.optim.SGD([w1, b1, w2, b2], lr=lr)
    epoch_losses = []
    if shuffle_seed is not None:
        torch.manual_seed(shuffle_seed)
    for _ in range(epochs):
        order = torch.randperm(len(x)) if shuffle_seed is not None else torch.arange(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            rows = order[start : start + batch_size]
            probs = torch.softmax(torch.relu(xt[rows] @ w1 + b1) @ w2 + b2, dim=-1)
            probs = (probs / probs.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
            loss = -(yt[rows] * probs.log()).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        epoch_losses.append(total / len(x))
    return [w.detach().numpy() for w in (w1, b1, w2, b2)], epoch_losses


@pytest.mark.parametrize("shuffle_seed", [None, 7])
def test_fit_matches_a_hand_written_torch_loop(shuffle_seed):
    x, y = data()
    model = classifier()
    start = model.get_weights()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy")
    if shuffle_seed is not None:
        torch.manual_seed(shuffle_seed)
    history = model.fit(
        x, y, batch_size=16, nb_epoch=3, verbose=0, shuffle=shuffle_seed is not None
    )
    expected, losses = reference_loop(start, x, y, 3, 16, 0.1, shuffle_seed)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    assert history.epoch == [0, 1, 2]


def test_verbose_2_prints_keras_epoch_lines(capsys):
    x, y = data()
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, nb_epoch=2, batch_size=32, verbose=2)
    out = capsys.readouterr().out
    assert re.fullmatch(
        r"Epoch 1/2\n\d+s - loss: \d\.\d{4} - acc: \d\.\d{4}\n"
        r"Epoch 2/2\n\d+s - loss: \d\.\d{4} - acc: \d\.\d{4}\n",
        out,
    ), out


def test_verbose_1_draws_the_progress_bar_with_validation(capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # a terminal: bars are redrawn
    x, y = data(n=100)
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, nb_epoch=1, batch_size=32, verbose=1, validation_split=0.2)
    out = capsys.readouterr().out
    assert out.startswith("Train on 80 samples, validate on 20 samples\nEpoch 1/1\n")
    final = out.rstrip("\n").split("\r")[-1]
    assert re.fullmatch(
        r"80/80 \[={30}\] - \d+s - loss: \d\.\d{4} - acc: \d\.\d{4} - val_loss: \d\.\d{4} "
        r"- val_acc: \d\.\d{4}",
        final,
    ), final
    assert "32/80 [" in out  # the first batch is always drawn


def test_validation_split_uses_the_tail_and_history_matches_evaluate():
    x, y = data(n=60)
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.05), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, nb_epoch=2, batch_size=16, verbose=0, validation_split=0.25)
    assert model.metrics_names == ["loss", "acc"]
    assert list(history.history) == ["loss", "acc", "val_loss", "val_acc"]
    val_loss, val_acc = model.evaluate(x[45:], y[45:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-6)
    predicted = model.predict(x[45:]).argmax(1)
    assert val_acc == pytest.approx(np.mean(predicted == y[45:].argmax(1)))


@pytest.mark.parametrize(
    ("units", "activation", "loss", "targets", "accuracy"),
    [
        (
            1,
            "sigmoid",
            "binary_crossentropy",
            lambda rng, n: rng.integers(2, size=(n, 1)),
            lambda p, t: np.mean(np.round(p) == t),
        ),
        (
            3,
            "softmax",
            "categorical_crossentropy",
            lambda rng, n: np.eye(3)[rng.integers(3, size=n)],
            lambda p, t: np.mean(p.argmax(1) == t.argmax(1)),
        ),
        (
            3,
            "softmax",
            "sparse_categorical_crossentropy",
            lambda rng, n: rng.integers(3, size=(n, 1)),
            lambda p, t: np.mean(p.argmax(1) == t[:, 0]),
        ),
    ],
)
def test_accuracy_is_picked_from_the_loss_and_output(units, activation, loss, targets, accuracy):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 4)).astype("float32"), targets(rng, 40)
    model = Sequential([Dense(units, input_dim=4, activation=activation)])
    model.compile(optimizer=fixed_sgd(0.0), loss=loss, metrics=["accuracy"])
    _, acc = model.evaluate(x, y, batch_size=40, verbose=0)
    assert acc == pytest.approx(accuracy(model.predict(x), y))


def test_custom_metrics_returning_a_tensor_or_a_dict():
    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    def false_rates(y_true, y_pred):
        predicted = K.round(y_pred)
        return {
            "false_neg": K.mean(y_true * (1 - predicted)),
            "false_pos": K.mean((1 - y_true) * predicted),
        }

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 5)).astype("float32"), rng.integers(2, size=(32, 1))
    model = Sequential([Dense(1, input_dim=5, activation="sigmoid")])
    model.compile(
        optimizer="rmsprop" if _has_optimizers() else fixed_sgd(0.0),
        loss="binary_crossentropy",
        metrics=["accuracy", mean_pred, false_rates],
    )
    assert model.metrics_names == ["loss", "acc", "mean_pred", "false_neg", "false_pos"]
    results = dict(
        zip(model.metrics_names, model.evaluate(x, y, batch_size=32, verbose=0), strict=True)
    )
    p = model.predict(x)
    assert results["mean_pred"] == pytest.approx(p.mean(), rel=1e-5)
    assert results["false_neg"] == pytest.approx(np.mean(y * (1 - np.round(p))), abs=1e-6)
    assert results["false_pos"] == pytest.approx(np.mean((1 - y) * np.round(p)), abs=1e-6)


def _has_optimizers() -> bool:
    from lamella.plugins import available

    return available("rmsprop", "optimizers")


def test_two_outputs_with_loss_weights():
    inp = Input(shape=(3,))
    first = Dense(2, activation="softmax", name="first")(inp)
    second = Dense(1, name="second")(inp)
    model = Model(inp, [first, second])
    model.compile(
        optimizer=fixed_sgd(0.0),
        loss=["categorical_crossentropy", "mse"],
        loss_weights=[0.5, 2.0],
        metrics=["accuracy"],
    )
    assert model.metrics_names == ["loss", "first_loss", "second_loss", "first_acc", "second_acc"]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 3)).astype("float32")
    y1, y2 = np.eye(2)[rng.integers(2, size=20)], rng.standard_normal((20, 1))
    total, l1, l2, _, _ = model.evaluate(x, [y1, y2], batch_size=20, verbose=0)
    p1, p2 = model.predict(x)
    cce = -(y1 * np.log(np.clip(p1, EPS, 1 - EPS))).sum(1).mean()
    mse = ((p2 - y2) ** 2).mean()
    assert l1 == pytest.approx(cce, rel=1e-5)
    assert l2 == pytest.approx(mse, rel=1e-5)
    assert total == pytest.approx(0.5 * cce + 2.0 * mse, rel=1e-5)
    by_name = model.evaluate(x, {"first": y1, "second": y2}, batch_size=20, verbose=0)
    assert by_name[0] == pytest.approx(total)


def test_sample_weights_scale_the_loss_as_keras_does():
    x, y = data(n=8)
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.0), loss="categorical_crossentropy")
    weights = np.array([1, 2, 0, 0, 1, 1, 3, 0], dtype="float32")
    weighted = model.evaluate(x, y, batch_size=8, sample_weight=weights, verbose=0)
    p = model.predict(x)
    per_sample = -(y * np.log(np.clip(p, EPS, 1 - EPS))).sum(1)
    expected = np.mean(per_sample * weights) / np.mean(weights != 0)
    assert weighted == pytest.approx(expected, rel=1e-5)


def test_batch_methods_and_sequential_predictions():
    x, y = data(n=10)
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x, y)
    trained = model.train_on_batch(x, y)
    assert len(before) == len(trained) == 2
    assert trained[0] == pytest.approx(before[0], rel=1e-6)  # the loss before the update
    assert model.test_on_batch(x, y)[0] < before[0]
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict(x), rtol=1e-6)
    np.testing.assert_array_equal(model.predict_classes(x, verbose=0), model.predict(x).argmax(1))
    np.testing.assert_allclose(model.predict_proba(x, verbose=0), model.predict(x))


def test_one_batch_predictions_match_batch_by_batch_and_are_the_callers_own():
    """``predict`` of data that fits one batch, and ``predict_on_batch``, run one forward
    pass without the batching machinery: the numbers of the batch-by-batch path, in arrays
    that are never a view of the caller's input, and an empty input's empty result."""
    x, _ = data(n=10)
    model = classifier()
    W1, b1, W2, b2 = model.get_weights()
    hidden = np.maximum(x @ W1 + b1, 0) @ W2 + b2
    expected = np.exp(hidden) / np.exp(hidden).sum(1, keepdims=True)
    batched = model.predict(x, batch_size=3)  # four batches: the general path
    for one in (model.predict(x), model.predict_on_batch(x), batched):
        assert one.dtype == np.float32 and one.shape == (10, 3)
        np.testing.assert_allclose(one, expected, rtol=1e-5, atol=1e-6)
    identity = Sequential([Activation("linear", input_shape=(4,))])
    ones = np.ones((2, 4), "float32")
    weight_out = Sequential([WeightOut(input_shape=(4,))])
    for predict in (identity.predict, identity.predict_on_batch):
        predict(ones)[:] = 5.0
    for predict in (weight_out.predict, weight_out.predict_on_batch):
        predict(ones)[:] = 5.0
    np.testing.assert_array_equal(ones, 1.0)
    np.testing.assert_array_equal(weight_out.get_weights()[0], 1.0)
    assert identity.predict_on_batch(np.zeros((0, 4), "float32")).shape == (0,)


class WeightOut(Layer):
    """Outputs its weight for every sample: a view of the weight, not a new tensor."""

    def build(self, input_shape):
        self.W = self.add_weight((3,), initializer="one", name="W")

    def call(self, x, mask=None):
        return self.W.expand(x.shape[0], 3)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], 3)


class PhaseProbe(Layer):
    """Records the learning phase it runs under."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, mask=None):
        self.seen.append((int(K.learning_phase()), self.training))
        return x


def test_dropout_and_learning_phase_only_while_training():
    probe = PhaseProbe(input_shape=(4,))
    model = Sequential([probe, Dropout(0.5), Dense(2)])
    model.compile(optimizer=fixed_sgd(0.0), loss="mse")
    x = np.ones((8, 4), "float32")
    model.fit(x, np.zeros((8, 2)), nb_epoch=1, batch_size=8, verbose=0)
    assert probe.seen == [(1, True)]
    first, second = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(first, second)
    assert probe.seen[1:] == [(0, False), (0, False)]


def test_compile_accepts_torch_optimizers_and_lr_changes_in_place():
    x, y = data()
    model = classifier()
    model.compile(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss="categorical_crossentropy"
    )
    assert K.get_value(model.optimizer.lr) == pytest.approx(0.1)
    K.set_value(model.optimizer.lr, 0.0)
    before = model.get_weights()
    model.fit(x, y, nb_epoch=1, verbose=0)
    for got, want in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.requires_absent("lamella-optimizers")
def test_optimizer_names_need_lamella_optimizers():
    model = classifier()
    with pytest.raises(MissingPluginError, match="pip install lamella-optimizers"):
        model.compile(optimizer="rmsprop", loss="mse")


@pytest.mark.parametrize(
    ("x", "y", "error", "message"),
    [
        (
            np.zeros((10, 4)),
            np.zeros((9, 3)),
            ValueError,
            r"same number of samples; got input 0: 10, target 0: 9",
        ),
        (
            np.zeros((10, 5)),
            np.zeros((10, 3)),
            ValueError,
            r"expected dense_input_1 to have shape \(None, 4\), but got an array with shape "
            r"\(10, 5\)",
        ),
        (np.array([["a"] * 4] * 2), np.zeros((2, 3)), TypeError, "must be numeric"),
        ([[1, 2, 3, 4], [1, 2]], np.zeros((2, 3)), ValueError, "ragged"),
        (
            np.zeros((10, 4)),
            np.zeros((10, 1)),
            ValueError,
            r"expects shape \(None, 3\).*sparse_categorical_crossentropy",
        ),
    ],
)
def test_bad_input_is_refused_before_training(x, y, error, message):
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(x, y, verbose=0)
    for got, want in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_unknown_loss_lists_close_matches_and_fit_needs_compile():
    model = classifier()
    with pytest.raises(RuntimeError, match="must compile model"):
        model.fit(*data(), verbose=0)
    with pytest.raises(UnknownNameError, match=r"Unknown loss: 'msee'. Did you mean: 'mse'"):
        model.compile(optimizer=fixed_sgd(0.1), loss="msee")


class InterruptAt(Callback):
    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_keyboard_interrupt_propagates_and_keeps_the_model_and_finished_epochs():
    x, y = data()
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, nb_epoch=5, verbose=0, callbacks=[InterruptAt(2)])
    assert model.history.epoch == [0, 1]
    assert not model.training
    assert model.predict(x).shape == (50, 3)
    assert len(model.fit(x, y, nb_epoch=1, verbose=0).history["loss"]) == 1


def test_epochs_alias_initial_epoch_and_callback_hooks():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", self.params["nb_epoch"]))

        def on_batch_end(self, batch, logs=None):
            events.append(("batch", batch, logs["size"], float(logs["loss"])))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch", epoch, sorted(logs)))

    x, y = data(n=20)
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy")
    history = model.fit(
        x, y, epochs=3, initial_epoch=1, batch_size=16, verbose=0, callbacks=[Recorder()]
    )
    assert history.epoch == [1, 2]
    assert events[0] == ("train_begin", 3)
    batches = [e for e in events if e[0] == "batch"]
    assert [(b[1], b[2]) for b in batches] == [(0, 16), (1, 4)] * 2
    first_epoch = (batches[0][3] * 16 + batches[1][3] * 4) / 20
    assert history.history["loss"][0] == pytest.approx(first_epoch, rel=1e-6)
    assert ("epoch", 1, ["loss"]) in events


def test_functional_model_trains_on_two_inputs():
    a, b = Input(shape=(3,)), Input(shape=(2,))
    out = Dense(1)(merge([Dense(4)(a), Dense(4)(b)], mode="concat"))
    model = Model(input=[a, b], output=out)
    model.compile(optimizer=fixed_sgd(0.05), loss="mse")
    rng = np.random.default_rng(5)
    xa, xb = rng.standard_normal((64, 3)), rng.standard_normal((64, 2))
    target = xa.sum(1, keepdims=True) - xb.sum(1, keepdims=True)
    history = model.fit([xa, xb], target, nb_epoch=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


def test_activation_layer_names_in_history_and_summary_counts():
    model = Sequential(
        [
            Dense(64, input_dim=20, init="uniform"),
            Activation("tanh"),
            Dropout(0.5),
            Dense(10, init="uniform"),
            Activation("softmax"),
        ]
    )
    assert model.count_params() == 20 * 64 + 64 + 64 * 10 + 10
    w = model.layers[0].get_weights()[0]
    assert np.abs(w).max() <= 0.05  # 'uniform' is U(-0.05, 0.05)


@pytest.mark.cuda
def test_model_moves_to_cuda_at_compile():
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.1), loss="categorical_crossentropy")
    assert model.device.type == "cuda"
    x, y = data()
    model.fit(x, y, nb_epoch=1, verbose=0)
    assert model.predict(x).shape == (50, 3)


def test_a_nan_loss_is_reported_with_epoch_and_batch():
    x, y = data(n=64)
    x[40] = np.nan  # the third batch of 16 holds sample 40
    model = classifier()
    model.compile(optimizer=fixed_sgd(0.0), loss="categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match=r"Epoch 1: the loss became nan at batch 2"):
        model.fit(x, y, nb_epoch=1, batch_size=16, shuffle=False, verbose=0)


def test_torch_optimizer_config_keeps_tuples_and_state_counts_iterations():
    from lamella.engine.optimizer import TorchOptimizer

    model = classifier()
    model.compile(
        optimizer=TorchOptimizer(torch.optim.Adam, lr=0.01, betas=(0.8, 0.95)),
        loss="categorical_crossentropy",
    )
    config = model.optimizer.get_config()
    assert config["betas"] == [0.8, 0.95]
    rebuilt = TorchOptimizer.from_config(config)
    rebuilt.bind(model.trainable_weights)
    assert tuple(rebuilt.torch_optimizer.defaults["betas"]) == (0.8, 0.95)
    model.fit(*data(), nb_epoch=1, batch_size=25, verbose=0)
    assert float(model.optimizer.weights[0]) == 2  # iterations first, as Keras saves it


@pytest.mark.cuda
def test_batches_reach_the_gpu_through_pinned_memory():
    from lamella.engine.data import to_tensor

    tensor = to_tensor(np.ones((4, 3), "float32"), "x", None, torch.device("cuda"))
    assert tensor.device.type == "cuda"
    torch.cuda.synchronize()
    np.testing.assert_array_equal(tensor.cpu().numpy(), np.ones((4, 3)))
