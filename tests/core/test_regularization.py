"""Penalties, constraints and sample/class weights, against the formulas they implement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.constraints import maxnorm, nonneg
from lamella.layers import Dense, Input
from lamella.models import Model, Sequential
from lamella.regularizers import activity_l2, l1, l2


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 6)).astype("float32")
Y = RNG.standard_normal((20, 3)).astype("float32")


def twin_models(**regularizers):
    """The same Dense model with and without the given regularizers."""
    plain = Sequential([Dense(3, input_dim=6)])
    regular = Sequential([Dense(3, input_dim=6, **regularizers)])
    regular.set_weights(plain.get_weights())
    for model in (plain, regular):
        model.compile(optimizer=fixed_sgd(0.0), loss="mse")
    return plain, regular


@pytest.mark.parametrize(
    ("kwargs", "penalty"),
    [
        ({"W_regularizer": l2(0.01)}, lambda w, b, out: 0.01 * np.sum(w**2)),
        ({"b_regularizer": l1(0.3)}, lambda w, b, out: 0.3 * np.sum(np.abs(b))),
        ({"W_regularizer": "l2"}, lambda w, b, out: 0.01 * np.sum(w**2)),
        ({"activity_regularizer": activity_l2(0.01)}, lambda w, b, out: 0.01 * np.sum(out**2)),
    ],
)
def test_evaluate_counts_the_penalty(kwargs, penalty):
    plain, regular = twin_models(**kwargs)
    plain.layers[0].set_weights([RNG.standard_normal((6, 3)), RNG.standard_normal(3)])
    regular.set_weights(plain.get_weights())
    w, b = plain.get_weights()
    difference = regular.evaluate(X, Y, batch_size=20, verbose=0) - plain.evaluate(
        X, Y, batch_size=20, verbose=0
    )
    assert difference == pytest.approx(penalty(w, b, X @ w + b), rel=1e-4)


def test_the_penalty_enters_the_gradient():
    """One SGD step on the regularized model moves W by lr * (dMSE/dW + 2 * 0.1 * W)."""
    model = Sequential([Dense(3, input_dim=6, W_regularizer=l2(0.1))])
    model.compile(optimizer=fixed_sgd(0.5), loss="mse")
    w, b = (torch.tensor(a, requires_grad=True) for a in model.get_weights())
    loss = ((torch.tensor(X) @ w + b - torch.tensor(Y)) ** 2).mean() + 0.1 * (w**2).sum()
    loss.backward()
    model.train_on_batch(X, Y)
    np.testing.assert_allclose(
        model.get_weights()[0], (w - 0.5 * w.grad).detach().numpy(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    ("constraint", "check"),
    [
        (maxnorm(0.5), lambda w: np.all(np.linalg.norm(w, axis=0) <= 0.5 + 1e-6)),
        (nonneg(), lambda w: np.all(w >= 0)),
    ],
)
def test_constraints_hold_after_every_update(constraint, check):
    model = Sequential([Dense(3, input_dim=6, W_constraint=constraint)])
    model.compile(optimizer=fixed_sgd(0.5), loss="mse")
    model.fit(X, Y * 10, nb_epoch=3, batch_size=5, verbose=0)
    assert check(model.get_weights()[0])


def test_class_weights_change_the_gradient_as_the_weighted_loss_says():
    labels = RNG.integers(3, size=20)
    targets = np.eye(3, dtype="float32")[labels]
    model = Sequential([Dense(3, input_dim=6, activation="softmax")])
    model.compile(optimizer=fixed_sgd(1.0), loss="categorical_crossentropy")
    w, b = (torch.tensor(a, requires_grad=True) for a in model.get_weights())
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    per_sample = torch.tensor([class_weight[c] for c in labels])
    probs = torch.softmax(torch.tensor(X) @ w + b, -1).clamp(1e-7, 1 - 1e-7)
    losses = -(torch.tensor(targets) * probs.log()).sum(-1)
    (torch.mean(losses * per_sample) / torch.mean((per_sample != 0).float())).backward()
    model.fit(
        X, targets, batch_size=20, nb_epoch=1, shuffle=False, verbose=0, class_weight=class_weight
    )
    np.testing.assert_allclose(
        model.get_weights()[0], (w - w.grad).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_temporal_sample_weights_weigh_each_timestep():
    inputs = Input(shape=(4, 2))
    model = Model(inputs, Dense(1)(inputs))
    model.compile(optimizer=fixed_sgd(0.0), loss="mse", sample_weight_mode="temporal")
    x = RNG.standard_normal((5, 4, 2)).astype("float32")
    y = RNG.standard_normal((5, 4, 1)).astype("float32")
    weights = RNG.integers(0, 3, size=(5, 4)).astype("float32")
    errors = ((model.predict(x) - y) ** 2).mean(-1)
    expected = np.mean(errors * weights) / np.mean(weights != 0)
    got = model.evaluate(x, y, sample_weight=weights, batch_size=5, verbose=0)
    assert got == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="temporal' needs 2D sample weights"):
        model.evaluate(x, y, sample_weight=weights[:, 0], verbose=0)
