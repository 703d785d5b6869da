"""Keras 1 programs for Sequential models, with ``keras`` replaced by ``lamella`` and nothing
else: the ways to build one and give its input shape, compile variants with custom metrics,
training on dummy data, Sequential branches merged, and MLP classifiers.

Dummy data sizes are the programs' own where they run in seconds; the printed
console lines are checked against Keras 1's formats.
"""

from __future__ import annotations

import re

import numpy as np
import pytest


def test_sequential_forms_and_input_shapes():
    from lamella.layers import Activation, Dense
    from lamella.models import Sequential

    model = Sequential(
        [
            Dense(32, input_dim=784),
            Activation("relu"),
            Dense(10),
            Activation("softmax"),
        ]
    )
    assert model.output_shape == (None, 10)

    model = Sequential()
    model.add(Dense(32, input_dim=784))
    model.add(Activation("relu"))
    assert model.output_shape == (None, 32)

    shapes = []
    for first in (
        Dense(32, input_shape=(784,)),
        Dense(32, batch_input_shape=(None, 784)),
        Dense(32, input_dim=784),
    ):
        model = Sequential()
        model.add(first)
        shapes.append((model.input_shape, model.output_shape))
    assert shapes == [((None, 784), (None, 32))] * 3


def test_lstm_input_shape_forms():
    pytest.importorskip("lamella.recurrent")
    from lamella.layers import LSTM
    from lamella.models import Sequential

    shapes = []
    for first in (
        LSTM(32, input_shape=(10, 64)),
        LSTM(32, batch_input_shape=(None, 10, 64)),
        LSTM(32, input_length=10, input_dim=64),
    ):
        model = Sequential()
        model.add(first)
        shapes.append((model.input_shape, model.output_shape))
    assert shapes == [((None, 10, 64), (None, 32))] * 3


def test_compile_variants_with_custom_metrics():
    import lamella.backend as K
    from lamella.layers import Activation, Dense
    from lamella.models import Sequential

    model = Sequential(
        [Dense(32, input_dim=784), Activation("relu"), Dense(10), Activation("softmax")]
    )
    # for a multi-class classification problem
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    # for a binary classification problem
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    # for a mean squared error regression problem
    model.compile(optimizer="rmsprop", loss="mse")

    # for custom metrics
    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    def false_rates(y_true, y_pred):
        false_neg = K.mean(y_true * (1 - K.round(y_pred)))
        false_pos = K.mean((1 - y_true) * K.round(y_pred))
        return {
            "false_neg": false_neg,
            "false_pos": false_pos,
        }

    model.compile(
        optimizer="rmsprop",
        loss="binary_crossentropy",
        metrics=["accuracy", mean_pred, false_rates],
    )
    assert model.metrics_names == ["loss", "acc", "mean_pred", "false_neg", "false_pos"]


def test_binary_classifier_on_dummy_data_prints_keras_lines(capsys):
    from lamella.layers import Dense
    from lamella.models import Sequential

    # for a single-input model with 2 classes (binary):
    model = Sequential()
    model.add(Dense(1, input_dim=784, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])

    # generate dummy data
    data = np.random.random((1000, 784))
    labels = np.random.randint(2, size=(1000, 1))

    # train the model, iterating on the data in batches of 32 samples
    history = model.fit(data, labels, nb_epoch=30, batch_size=32, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 60
    for epoch in range(30):
        assert out[2 * epoch] == f"Epoch {epoch + 1}/30"
        assert re.fullmatch(r"\d+s - loss: \d\.\d{4} - acc: \d\.\d{4}", out[2 * epoch + 1])
    losses = history.history["loss"]
    assert losses[-1] < losses[0]  # random labels: it can still fit the training set a bit
    assert history.history["acc"][-1] > 0.6


def test_merge_branches_with_to_categorical():
    from lamella.layers import Dense, Merge
    from lamella.models import Sequential
    from lamella.utils.np_utils import to_categorical

    left_branch = Sequential()
    left_branch.add(Dense(32, input_dim=784))

    right_branch = Sequential()
    right_branch.add(Dense(32, input_dim=784))

    merged = Merge([left_branch, right_branch], mode="concat")

    model = Sequential()
    model.add(merged)
    model.add(Dense(10, activation="softmax"))

    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])

    data_1 = np.random.random((1000, 784))
    data_2 = np.random.random((1000, 784))

    # these are integers between 0 and 9
    labels = np.random.randint(10, size=(1000, 1))
    # we convert the labels to a binary matrix of size (1000, 10)
    labels = to_categorical(labels, 10)
    assert labels.shape == (1000, 10)

    # note that we are passing a list of Numpy arrays as training data
    # since the model has 2 inputs
    history = model.fit([data_1, data_2], labels, nb_epoch=10, batch_size=32, verbose=0)
    assert len(history.history["loss"]) == 10
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_history_after_validation_split():
    from lamella.layers import Dense
    from lamella.models import Sequential

    X = np.random.random((100, 8))
    y = np.random.randint(2, size=(100, 1))
    model = Sequential([Dense(1, input_dim=8, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(X, y, validation_split=0.2, verbose=0)
    print(hist.history)
    assert sorted(hist.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert all(len(values) == 10 for values in hist.history.values())
    assert hist.params["nb_sample"] == 80


def _digits(classes: int = 10):
    rng = np.random.default_rng(0)
    X_train = rng.random((400, 20)).astype("float32")
    centers = rng.standard_normal((classes, 20))
    labels = (X_train @ centers.T).argmax(1)
    return X_train, np.eye(classes)[labels], labels


def test_softmax_mlp_with_nesterov_sgd():
    from lamella.layers import Activation, Dense, Dropout
    from lamella.models import Sequential
    from lamella.optimizers import SGD

    X_train, y_train, _ = _digits()
    X_test, y_test = X_train[:100], y_train[:100]

    model = Sequential()
    # Dense(64) is a fully-connected layer with 64 hidden units.
    # in the first layer, you must specify the expected input data shape:
    # here, 20-dimensional vectors.
    model.add(Dense(64, input_dim=20, init="uniform"))
    model.add(Activation("tanh"))
    model.add(Dropout(0.5))
    model.add(Dense(64, init="uniform"))
    model.add(Activation("tanh"))
    model.add(Dropout(0.5))
    model.add(Dense(10, init="uniform"))
    model.add(Activation("softmax"))

    sgd = SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])

    model.fit(X_train, y_train, nb_epoch=20, batch_size=16, verbose=0)
    score = model.evaluate(X_test, y_test, batch_size=16, verbose=0)
    assert score[1] > 0.5  # well above the 0.1 of guessing


def test_relu_mlp_with_adadelta_and_binary_mlp_with_rmsprop():
    from lamella.layers import Dense, Dropout
    from lamella.models import Sequential

    X_train, y_train, labels = _digits()
    model = Sequential()
    model.add(Dense(64, input_dim=20, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(64, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adadelta", metrics=["accuracy"])
    history = model.fit(X_train, y_train, nb_epoch=10, batch_size=16, verbose=0)
    assert history.history["acc"][-1] > 0.4

    y_binary = (labels < 5).astype("int32")
    model = Sequential()
    model.add(Dense(64, input_dim=20, init="uniform", activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(64, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    history = model.fit(X_train, y_binary, nb_epoch=10, batch_size=16, verbose=0)
    assert history.history["acc"][-1] > 0.6
