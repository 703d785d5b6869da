"""Metric functions as users call them, and as compile takes them (Keras 1's conventions).

``lamella.metrics`` functions return the batch mean, a scalar, as Keras 1's do; the
epoch values fit reports are means over samples, whatever the batch sizes, for
built-in metrics and for user metrics returning a scalar or one value per sample.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella import metrics
from lamella.layers import Dense, Input
from lamella.models import Model, Sequential

RNG = np.random.default_rng(3)


def test_k_eval_of_a_metric_is_a_scalar():
    y_true = K.variable(np.array([[1.0], [0.0], [1.0], [1.0]]))
    y_pred = K.variable(np.array([[0.9], [0.2], [0.3], [0.6]]))
    value = K.eval(metrics.binary_accuracy(y_true, y_pred))
    assert np.ndim(value) == 0
    assert value == pytest.approx(0.75)
    value = K.eval(metrics.mean_absolute_error(y_true, y_pred))
    assert np.ndim(value) == 0
    assert value == pytest.approx((0.1 + 0.2 + 0.7 + 0.4) / 4)


def fixed_classifier(metrics_argument, frozen=True):
    """Weights that do not move (frozen, or SGD with lr 0): every batch sees the same
    predictions, so epoch values can be computed exactly from ``predict``."""
    torch.manual_seed(0)
    model = Sequential([Dense(3, input_dim=4, activation="softmax", trainable=not frozen)])
    model.compile(
        optimizer=torch.optim.SGD if frozen else torch.optim.SGD(model.parameters(), lr=0.0),
        loss="categorical_crossentropy",
        metrics=metrics_argument,
    )
    return model


def classification_data(n=23):
    x = RNG.standard_normal((n, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[RNG.integers(3, size=n)]
    return x, y


def per_sample_hits(y_true, y_pred):
    return (y_true.argmax(-1) == y_pred.argmax(-1)).float()


def batch_hits(y_true, y_pred):
    return (y_true.argmax(-1) == y_pred.argmax(-1)).float().mean()


@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize("metric", ["acc", "categorical_accuracy", per_sample_hits, batch_hits])
def test_epoch_accuracy_is_the_mean_over_samples_with_uneven_batches(metric, frozen):
    model = fixed_classifier([metric], frozen)
    x, y = classification_data()
    predictions = model.predict(x)
    expected = np.mean(predictions.argmax(-1) == y.argmax(-1))
    history = model.fit(x, y, batch_size=5, nb_epoch=1, verbose=0, shuffle=False)
    name = model.metrics_names[1]
    assert history.history[name] == [pytest.approx(expected, rel=1e-6)]
    assert model.evaluate(x, y, batch_size=5, verbose=0)[1] == pytest.approx(expected, rel=1e-6)


def test_mse_metric_epoch_value_is_the_mean_over_samples():
    model = fixed_classifier(["mse"])
    x, y = classification_data()
    predictions = model.predict(x)
    history = model.fit(x, y, batch_size=4, nb_epoch=1, verbose=0)
    assert model.metrics_names == ["loss", "mean_squared_error"]
    expected = np.mean((predictions - y) ** 2)
    assert history.history["mean_squared_error"] == [pytest.approx(expected, rel=1e-5)]


def two_outputs():
    x = Input(shape=(4,))
    first = Dense(1, activation="sigmoid", name="first")(x)
    second = Dense(2, name="second")(x)
    model = Model(x, [first, second])
    return model


def test_per_output_metric_given_as_a_bare_string():
    model = two_outputs()
    model.compile(optimizer=torch.optim.SGD, loss="mse", metrics={"first": "acc"})
    assert model.metrics_names == ["loss", "first_loss", "second_loss", "first_acc"]
    x = RNG.standard_normal((6, 4)).astype("float32")
    y1 = RNG.integers(0, 2, size=(6, 1)).astype("float32")
    y2 = RNG.standard_normal((6, 2)).astype("float32")
    p1, _ = model.predict(x)
    values = model.evaluate(x, [y1, y2], verbose=0)
    assert values[3] == pytest.approx(np.mean(np.round(p1) == y1))


def test_per_output_metrics_given_as_lists():
    model = two_outputs()
    model.compile(
        optimizer=torch.optim.SGD, loss="mse", metrics={"first": ["acc", "mse"], "second": "mae"}
    )
    assert model.metrics_names == [
        "loss",
        "first_loss",
        "second_loss",
        "first_acc",
        "first_mean_squared_error",
        "second_mean_absolute_error",
    ]


def test_a_bare_metric_string_for_the_whole_model_is_refused_clearly():
    model = two_outputs()
    with pytest.raises(TypeError, match=r"compile: metrics must be a list .* got 'acc'"):
        model.compile(optimizer=torch.optim.SGD, loss="mse", metrics="acc")
