"""Keras 1's update rules traced into jit_compile's one-graph training step
(engine/whole_step.py with Optimizer.graph_update): the same weights, state and iteration
counts as eager training, with no new graph once the first epoch is done."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from lamella import backend as K
from lamella.callbacks import Callback
from lamella.layers import Dense, Dropout
from lamella.models import Sequential
from lamella.optim import SGD, Adadelta, Adagrad, Adam, Adamax, Nadam, RMSprop

RNG = np.random.default_rng(1)
X = RNG.standard_normal((90, 5)).astype("float32")
Y = np.eye(3, dtype="float32")[RNG.integers(3, size=90)]
TRACED = {"backend": "aot_eager"}

RULES = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, decay=0.01)),
    (RMSprop, dict(clipvalue=0.05)),
    (Adagrad, {}),
    (Adadelta, {}),
    (Adam, dict(decay=0.01, clipnorm=0.1)),
    (Adamax, {}),
    (Nadam, {}),  # its schedule changes every step: the update stays out of the graph
]


def trained(cls, arguments, jit_compile, epochs=3, callbacks=()):
    torch.manual_seed(0)
    model = Sequential(
        [Dense(8, input_dim=5, activation="relu"), Dropout(0.0), Dense(3, activation="softmax")]
    )
    optimizer = cls(**arguments)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", jit_compile=jit_compile)
    model.fit(
        X, Y, batch_size=40, nb_epoch=epochs, shuffle=False, verbose=0, callbacks=list(callbacks)
    )
    return model


@pytest.mark.parametrize(("cls", "arguments"), RULES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_traced_rule_trains_as_the_eager_one(cls, arguments):
    torch._dynamo.reset()
    eager = trained(cls, arguments, False)
    counters.clear()
    jitted = trained(cls, arguments, TRACED, epochs=1)
    graphs = counters["stats"]["unique_graphs"]
    jitted.fit(X, Y, batch_size=40, nb_epoch=2, shuffle=False, verbose=0)
    assert counters["stats"]["unique_graphs"] == graphs  # 90 = 40 + 40 + 10: no new graph
    assert (jitted._whole_step.update is None) == (cls is Nadam)
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=1e-6)
    for a, b in zip(eager.optimizer.get_weights(), jitted.optimizer.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=1e-6)
    assert float(jitted.optimizer.iterations) == float(eager.optimizer.iterations)


class SetMomentum(Callback):
    """``K.set_value`` on a hyperparameter in the middle of training."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            K.set_value(self.model.optimizer.momentum, 0.5)


def test_a_hyperparameter_set_during_training_takes_effect_in_the_graph():
    """The traced rule reads momentum as a number: a new value compiles the step again
    rather than being ignored."""
    torch._dynamo.reset()
    arguments = dict(lr=0.1, momentum=0.9)
    eager = trained(SGD, arguments, False, callbacks=[SetMomentum()])
    jitted = trained(SGD, arguments, TRACED, callbacks=[SetMomentum()])
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=1e-6)
    unchanged = trained(SGD, arguments, False)
    assert not np.allclose(unchanged.get_weights()[0], jitted.get_weights()[0])


def test_inductor_compiles_the_rmsprop_step_as_eager_computes_it():
    """The default backend, generating C++: the step Keras users get with
    ``compile('rmsprop', jit_compile=True)``."""
    torch._dynamo.reset()
    eager = trained(RMSprop, {}, False)
    jitted = trained(RMSprop, {}, True)
    assert jitted._whole_step.update is not None and not jitted._whole_step.broken
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
