"""What careless input, Ctrl-C and threads must not do to a model (issue 17, items 5, 7, 9, 10).

Each test pins a behaviour a user relies on: threads sharing one model get the
single-thread answers, Ctrl-C stops ``fit`` and leaves the model usable, and bad
input is refused with an error naming what was wrong, before any weight changes.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import torch

from lamella.callbacks import Callback
from lamella.engine.topology import Layer
from lamella.layers import (
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Lambda,
    TimeDistributedDense,
    merge,
)
from lamella.models import Model, Sequential, model_from_json, model_from_yaml


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


def dropout_net() -> Sequential:
    """Dense-relu-Dropout(0.5)-Dense: with dropout on, repeated calls never agree."""
    torch.manual_seed(0)
    return Sequential([Dense(16, input_dim=6, activation="relu"), Dropout(0.5), Dense(3)])


def numpy_forward(model: Sequential, x: np.ndarray) -> np.ndarray:
    """The same network in inference mode, by hand: Dropout is the identity."""
    w1, b1, w2, b2 = model.get_weights()
    return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2


def features(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 6)).astype("float32")


def assert_unchanged(model, before):
    for got, want in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


# -- item 5: threads share one model ---------------------------------------------------


def test_threads_predicting_on_a_dropout_model_get_the_single_thread_answers():
    model = dropout_net()
    x = features()
    alone = model.predict(x, batch_size=4)
    np.testing.assert_allclose(alone, numpy_forward(model, x), rtol=1e-5, atol=1e-6)
    threads, trials = 6, 60
    start = threading.Barrier(threads)
    wrong: list[int] = []
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            start.wait()
            if not np.array_equal(model.predict(x, batch_size=4), alone):
                wrong.append(1)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, as on a busy server
    try:
        for _ in range(trials):
            # Each trial starts as a new model does: in torch's training mode.
            model.train()
            workers = [threading.Thread(target=serve) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures
    assert len(wrong) == 0, f"{len(wrong)} of {threads * trials} predictions differed"
    # The torch mode is back as it was: in training mode, torch calls apply dropout.
    assert all(module.training for module in model.modules())
    outputs = [model(torch.from_numpy(x)).detach().numpy() for _ in range(2)]
    assert not np.array_equal(outputs[0], outputs[1])


def test_predict_keeps_each_modules_own_mode():
    model = dropout_net()
    model.eval()
    model.layers[1].train()  # a torch user's choice for one layer
    model.predict(features())
    assert [layer.training for layer in model.layers] == [False, True, False]
    assert not model.training


class Gate(Layer):
    """Passes its input through; the first call waits until the test opens the gate."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.entered, self.release = threading.Event(), threading.Event()

    def call(self, x, mask=None):
        self.entered.set()
        assert self.release.wait(10)
        return x


def test_fit_is_refused_while_another_thread_predicts():
    gate = Gate(input_shape=(6,))
    model = Sequential([gate, Dense(3)])
    model.compile(optimizer=fixed_sgd(0.1), loss="mse")
    x, y = features(8), np.zeros((8, 3), "float32")
    before = model.get_weights()
    predicted: list[np.ndarray] = []
    serving = threading.Thread(target=lambda: predicted.append(model.predict(x)))
    serving.start()
    try:
        assert gate.entered.wait(10)
        with pytest.raises(RuntimeError, match="predicting or evaluating in another thread"):
            model.fit(x, y, nb_epoch=1, verbose=0)
        with pytest.raises(RuntimeError, match="predicting or evaluating in another thread"):
            model.train_on_batch(x, y)
        assert_unchanged(model, before)
    finally:
        gate.release.set()
        serving.join()
    w, b = before
    np.testing.assert_allclose(predicted[0], x @ w + b, rtol=1e-5, atol=1e-6)
    assert model.fit(x, y, nb_epoch=1, verbose=0).epoch == [0]  # free again


class PredictDuringFit(Callback):
    """At the end of epoch 0, predicts from this (the training) thread, then lets another
    thread try, and records what each saw."""

    def __init__(self, x):
        super().__init__()
        self.x = x
        self.seen: dict[str, object] = {}

    def on_epoch_end(self, epoch, logs=None):
        if epoch:
            return
        self.seen["here"] = self.model.predict(self.x)
        self.seen["weights"] = self.model.get_weights()

        def elsewhere() -> None:
            try:
                self.model.predict(self.x)
            except RuntimeError as error:
                self.seen["elsewhere"] = str(error)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:  # training mode is back after the prediction in epoch 0's end
            self.seen["training"] = [layer.training for layer in self.model.layers]


def test_predict_in_the_training_thread_works_and_other_threads_are_refused():
    model = dropout_net()
    model.compile(optimizer=fixed_sgd(0.05), loss="mse")
    x = features()
    probe = PredictDuringFit(x)
    model.fit(x, np.zeros((40, 3), "float32"), nb_epoch=2, verbose=0, callbacks=[probe])
    weights = probe.seen["weights"]
    w1, b1, w2, b2 = weights
    np.testing.assert_allclose(
        probe.seen["here"], np.maximum(x @ w1 + b1, 0) @ w2 + b2, rtol=1e-5, atol=1e-6
    )
    assert "being trained by fit in another thread" in probe.seen["elsewhere"]
    assert probe.seen["training"] == [True, True, True]
    assert not any(module.training for module in model.modules())  # fit ends in eval mode


# -- item 7: Ctrl-C during fit ------------------------------------------------------------


class Interrupt(Callback):
    """Ctrl-C in the middle of epoch 1; records what on_train_end found."""

    def __init__(self):
        super().__init__()
        self.at_train_end: list[bool] | None = None

    def on_batch_end(self, batch, logs=None):
        if self.model.history.epoch == [0] and batch == 2:
            raise KeyboardInterrupt

    def on_train_end(self, logs=None):
        self.at_train_end = [module.training for module in self.model.modules()]


def test_keyboard_interrupt_mid_epoch_propagates_after_on_train_end():
    model = dropout_net()
    model.compile(optimizer=fixed_sgd(0.05), loss="mse")
    x, y = features(), np.zeros((40, 3), "float32")
    interrupt = Interrupt()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, nb_epoch=5, batch_size=8, verbose=0, callbacks=[interrupt])
    assert interrupt.at_train_end is not None and not any(interrupt.at_train_end)
    assert model.history.epoch == [0]
    assert not any(module.training for module in model.modules())
    np.testing.assert_allclose(model.predict(x), numpy_forward(model, x), rtol=1e-5, atol=1e-6)
    assert model.fit(x, y, nb_epoch=1, verbose=0).epoch == [0]  # trainable again


# -- item 9: bad input is refused --------------------------------------------------------


def compiled(loss: str = "mse", units: int = 3, activation: str | None = None) -> Sequential:
    torch.manual_seed(0)
    model = Sequential([Dense(units, input_dim=6, activation=activation)])
    model.compile(optimizer=fixed_sgd(0.1), loss=loss)
    return model


def test_no_samples_is_an_error_not_a_silent_no_op():
    model = compiled()
    before = model.get_weights()
    empty_x, empty_y = np.zeros((0, 6), "float32"), np.zeros((0, 3), "float32")
    with pytest.raises(ValueError, match=r"fit: got 0 samples"):
        model.fit(empty_x, empty_y, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split=0.5 leaves no samples to train on"):
        model.fit(features(1), np.zeros((1, 3)), validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match=r"train_on_batch: got 0 samples"):
        model.train_on_batch(empty_x, empty_y)
    with pytest.raises(ValueError, match=r"evaluate: got 0 samples"):
        model.evaluate(empty_x, empty_y, verbose=0)
    assert_unchanged(model, before)


def test_an_exhausted_generator_is_an_error():
    model = compiled()
    before = model.get_weights()
    batches = iter([(features(4), np.zeros((4, 3), "float32"))])
    next(batches)  # used up, as a generator is after one pass
    with pytest.raises(ValueError, match=r"fit_generator: the generator .* gave no data"):
        model.fit_generator(batches, samples_per_epoch=4, nb_epoch=1, verbose=0)
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(0, 6)))
    with pytest.raises(ValueError, match=r"the DataLoader's dataset is empty \(0 samples\)"):
        model.fit(empty, nb_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate_generator: the generator .* gave no data"):
        model.evaluate_generator(iter([]), val_samples=4)
    with pytest.raises(ValueError, match=r"predict_generator: the generator .* gave no data"):
        model.predict_generator(iter([]), val_samples=4)
    assert_unchanged(model, before)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Dense(2, input_shape=(0,)), r"Dense dense_1: input_shape must be .* got \(0,\)"),
        (lambda: Dense(2, input_dim=0), r"Dense dense_1: input_dim must be .* got 0"),
        (lambda: Dense(2, input_shape="4"), r"Dense dense_1: input_shape must be .* got '4'"),
        (lambda: Dense(2, input_shape=4), r"input_shape must be .* got 4 \(for one axis write"),
        (
            lambda: Dense(2, batch_input_shape=(None, -3)),
            r"batch_input_shape must be a tuple of positive integers .* got \(None, -3\)",
        ),
        (lambda: Input(shape=(3, 0)), r"InputLayer input_1: input_shape .* got \(3, 0\)"),
        (lambda: Embedding(10, 2, input_length=0), r"Embedding embedding_1: input_length must"),
    ],
)
def test_impossible_input_shapes_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_class_weight_keys_must_be_the_outputs_classes():
    model = compiled("categorical_crossentropy", activation="softmax")
    x, y = features(6), np.eye(3, dtype="float32")[[0, 1, 2, 2, 1, 0]]
    before = model.get_weights()
    for weights, message in [
        ({-1: 100.0, 0: 1.0, 1: 1.0, 2: 1.0}, r"class_weight: -1 is not a class index: the "),
        ({0: 1.0, 1: 1.0, 2: 1.0, 3: 9.0}, r"3 is not a class index: the output has 3 classes"),
        ({"0": 1.0, 1: 1.0, 2: 1.0}, r"'0' is not a class index"),
        ({0: 1.0, 2: 5.0}, r"no weight for the classes \[1\] found in target dense_1"),
    ]:
        with pytest.raises(ValueError, match=message):
            model.fit(x, y, class_weight=weights, nb_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"no weight for the classes \[0\]"):
        model.train_on_batch(x, y, class_weight={1: 1.0, 2: 1.0})
    assert_unchanged(model, before)
    sparse = compiled("sparse_categorical_crossentropy", activation="softmax")
    with pytest.raises(ValueError, match=r"-1 is not a class index"):
        sparse.fit(x, np.array([0, 1, 2, 2, 1, 0]), class_weight={-1: 2.0}, verbose=0)


def test_class_weight_still_weights_each_sample_by_its_class():
    """One SGD step with class weights equals the step on the numpy-weighted mse."""
    model = compiled()
    x = features(6)
    labels = np.array([0, 1, 2, 2, 1, 0])
    y = np.eye(3, dtype="float32")[labels]
    table = {0: 1.0, 1: 3.0, 2: 0.5}
    w, b = model.get_weights()
    model.fit(x, y, class_weight=table, nb_epoch=1, batch_size=6, shuffle=False, verbose=0)
    per_sample = np.array([table[c] for c in labels])
    error = x @ w + b - y  # d/dout of mean over samples of weighted mean squared error
    grad_out = 2 * error / 3 * per_sample[:, None] / len(x)
    np.testing.assert_allclose(model.get_weights()[0], w - 0.1 * x.T @ grad_out, rtol=1e-5)


def test_class_weight_on_class_indices_weights_each_sample_by_its_class():
    """Sparse targets (one index per sample, or per timestep) read the index itself."""
    model = compiled("sparse_categorical_crossentropy", activation="softmax")
    x = features(6)
    labels = np.array([0, 1, 2, 2, 1, 0])
    table = {0: 2.0, 1: 0.5, 2: 1.5}
    w, b = model.get_weights()
    model.fit(x, labels, class_weight=table, nb_epoch=1, batch_size=6, shuffle=False, verbose=0)
    logits = x @ w + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    per_sample = np.array([table[c] for c in labels])
    grad_logits = (p - np.eye(3)[labels]) * per_sample[:, None] / len(x)
    np.testing.assert_allclose(model.get_weights()[0], w - 0.1 * x.T @ grad_logits, rtol=1e-4)


def test_class_weight_on_class_indices_per_timestep_reads_each_index():
    """(samples, timesteps) indices are classes, not a one-hot row: a sample's weight is the
    mean of its timesteps' class weights, as the weighted temporal loss averages them."""
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="deprecated"):
        layer = TimeDistributedDense(3, input_dim=4, input_length=5, activation="softmax")
    model = Sequential([layer])
    model.compile(optimizer=fixed_sgd(0.1), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    labels = rng.integers(3, size=(2, 5))
    table = {0: 2.0, 1: 0.5, 2: 1.5}
    w, b = model.get_weights()
    model.fit(x, labels, class_weight=table, nb_epoch=1, batch_size=2, shuffle=False, verbose=0)
    logits = x @ w + b
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    per_sample = np.vectorize(table.get)(labels).mean(1)
    grad_logits = (p - np.eye(3)[labels]) * per_sample[:, None, None] / labels.size
    expected = w - 0.1 * np.einsum("ntd,ntc->dc", x, grad_logits)
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-4, atol=1e-6)


# -- item 10: errors that say what is wrong ----------------------------------------------


def test_an_embedding_index_out_of_range_names_the_layer_the_index_and_input_dim():
    model = Sequential([Embedding(10, 2, input_length=3), Flatten(), Dense(1)])
    model.compile(optimizer=fixed_sgd(0.1), loss="mse")
    before = model.get_weights()
    expected = r"Embedding embedding_1: input .* holds index {}, out of range: input_dim is 10"
    with pytest.raises(IndexError, match=expected.format(10)):
        model.predict(np.array([[1, 2, 10]]))
    with pytest.raises(IndexError, match=expected.format(-2)):
        model.fit(np.array([[1, 2, 3]] * 7 + [[1, -2, 3]]), np.zeros((8, 1)), verbose=0)
    assert_unchanged(model, before)  # refused before the first batch
    # Deeper in a graph, the lookup itself explains its failure.
    indices = Input(shape=(3,), dtype="int64")
    shifted = Lambda(lambda t: t + 5, output_shape=(3,))(indices)
    deep = Model(indices, Embedding(10, 2, name="words")(shifted))
    with pytest.raises(IndexError, match=r"Embedding words: its input holds index 12, .* 10"):
        deep.predict(np.array([[1, 2, 7]]))
    good = np.array([[0, 4, 9]])
    np.testing.assert_array_equal(
        model.layers[0](torch.from_numpy(good)).detach().numpy()[0], before[0][[0, 4, 9]]
    )


def test_a_two_input_model_given_one_array_says_what_it_expects():
    a, b = Input(shape=(4,), name="left"), Input(shape=(4,), name="right")
    model = Model([a, b], Dense(1)(merge([a, b], mode="concat")))
    with pytest.raises(
        ValueError,
        match=r"The model has 2 inputs \(\['left', 'right'\]\), but got one ndarray of "
        r"shape \(2, 4\)",
    ):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"has 2 inputs .* but got a list of 3 arrays"):
        model.predict([np.zeros((2, 4))] * 3)


@pytest.mark.parametrize(
    ("load", "text"),
    [(model_from_json, "[" * 100_000 + "]" * 100_000), (model_from_yaml, "[" * 100_000)],
)
def test_deeply_nested_configs_get_a_clear_error(load, text):
    with pytest.raises(ValueError, match=r"nests deeper than Python's recursion limit"):
        load(text)
