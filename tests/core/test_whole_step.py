"""jit_compile's training step as one graph (engine/whole_step.py): forward pass, loss,
backward pass and, where the optimizer allows, its update, traced together.  The results
are those of an eager step; these tests use dynamo's "aot_eager" backend (traced, no C++
build), tests/optimizers covers the Keras rules and inductor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from lamella.constraints import maxnorm
from lamella.engine.topology import Layer
from lamella.layers import Dense
from lamella.models import Sequential

RNG = np.random.default_rng(0)
X = RNG.standard_normal((70, 6)).astype("float32")
Y = np.eye(3, dtype="float32")[RNG.integers(3, size=70)]
TRACED = {"backend": "aot_eager"}


class Scaled(Layer):
    """``x · s`` with a trained scalar ``s``, and a second weight ``unused`` that no output
    reads (Keras 1 custom layers sometimes keep one): it never gets a gradient.  With
    ``leave_torch``, the scale also goes through a Python list (``.tolist()``), which
    breaks the traced graph."""

    def __init__(self, leave_torch: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.leave_torch = leave_torch

    def build(self, input_shape):
        self.s = self.add_weight((1,), "one", name="s")
        self.unused = self.add_weight((1,), "one", name="unused")

    def call(self, x, mask=None):
        if self.leave_torch:
            as_list = torch.tensor(self.s.detach().tolist(), device=x.device)
            return x * self.s * (as_list / self.s.detach())
        return x * self.s


def model_of(jit_compile, leave_torch=False):
    torch.manual_seed(0)
    model = Sequential(
        [
            Dense(8, input_dim=6, activation="tanh", W_constraint=maxnorm(0.5)),
            Scaled(leave_torch),
            Dense(3, activation="softmax"),
        ]
    )
    # torch.optim: the graph hands back the gradients, the optimizer steps (its own
    # update breaks graphs on purpose); the Keras rules are in tests/optimizers
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, weight_decay=0.01)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", jit_compile=jit_compile)
    return model


def reference_sgd_momentum(epochs: int, batch: int) -> list[np.ndarray]:
    """The same network and updates written with torch.nn, as a PyTorch user would."""
    start = model_of(False)
    dense1, scaled = torch.nn.Linear(6, 8), torch.nn.Parameter(torch.ones(1))
    dense2 = torch.nn.Linear(8, 3)
    with torch.no_grad():
        w1, b1, s, _, w2, b2 = (torch.from_numpy(w) for w in start.get_weights())
        dense1.weight.copy_(w1.t()), dense1.bias.copy_(b1), scaled.copy_(s)
        dense2.weight.copy_(w2.t()), dense2.bias.copy_(b2)
    params = [dense1.weight, dense1.bias, scaled, dense2.weight, dense2.bias]
    optimizer = torch.optim.SGD(params, lr=0.2, momentum=0.9, weight_decay=0.01)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    for _ in range(epochs):
        for i in range(0, len(x), batch):
            probs = torch.softmax(dense2(torch.tanh(dense1(x[i : i + batch])) * scaled), -1)
            probs = (probs / probs.sum(-1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
            loss = -(y[i : i + batch] * probs.log()).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # maxnorm(0.5) on each unit's incoming weights
                norms = dense1.weight.norm(dim=1, keepdim=True)
                dense1.weight.mul_(norms.clamp(max=0.5) / (norms + 1e-7))
    return [p.detach().numpy() for p in params]


def test_a_torch_optimizer_trains_as_a_hand_written_loop():
    """Gradients from the graph, torch.optim's own step, the constraint after it; the
    first step and the short last batch (70 = 32 + 32 + 6) run eagerly."""
    torch._dynamo.reset()
    model = model_of(TRACED)
    model.fit(X, Y, batch_size=32, nb_epoch=3, shuffle=False, verbose=0)
    assert model._whole_step.size == 32 and not model._whole_step.broken
    w1, b1, s, unused, w2, b2 = model.get_weights()
    expected = reference_sgd_momentum(epochs=3, batch=32)
    for got, want in zip([w1.T, b1, s, w2.T, b2], expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert unused == 1.0  # no gradient, no update (weight decay would shrink a zero one)


def test_the_whole_step_compiles_once_and_never_again():
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    model = model_of(TRACED)
    model.fit(X, Y, batch_size=32, nb_epoch=1, verbose=0)
    graphs = counters["stats"]["unique_graphs"]
    assert graphs > 0
    model.fit(X, Y, batch_size=32, nb_epoch=3, verbose=0)
    assert counters["stats"]["unique_graphs"] == graphs


def test_a_step_the_tracer_cannot_take_whole_falls_back_with_one_warning():
    """A layer that leaves torch for Python numbers: one warning, then the per-part
    compiled step, with the same results as eager."""
    torch._dynamo.reset()
    eager = model_of(False, leave_torch=True)
    eager.fit(X, Y, batch_size=32, nb_epoch=2, shuffle=False, verbose=0)
    jitted = model_of(TRACED, leave_torch=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jitted.fit(X, Y, batch_size=32, nb_epoch=2, shuffle=False, verbose=0)
    said = [str(w.message) for w in caught if "one graph" in str(w.message)]
    assert len(said) == 1 and "forward pass and loss only" in said[0]
    assert jitted._whole_step.broken
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_loss_no_weight_reaches_compiles_nothing():
    """Keras 1 takes no step when the loss does not depend on the weights; neither does
    the whole step (it would otherwise feed zero gradients to the optimizer's state)."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = Sequential([Dense(3, input_dim=6, trainable=False), Dense(3, trainable=False)])
    model.layers[1].trainable = True
    model.compile(
        optimizer=torch.optim.SGD(model.layers[1].parameters(), lr=0.1),
        loss=lambda y_true, y_pred: (y_true**2).mean(-1),
        jit_compile=TRACED,
    )
    before = model.get_weights()
    model.fit(X, Y, batch_size=32, nb_epoch=2, verbose=0)
    assert model._whole_step.broken
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("jit_compile", [False, TRACED])
def test_evaluate_after_a_whole_step_fit_is_the_eager_one(jit_compile):
    """evaluate and predict are untouched by the whole step (their own compiled forward)."""
    torch._dynamo.reset()
    model = model_of(jit_compile)
    model.fit(X, Y, batch_size=32, nb_epoch=2, shuffle=False, verbose=0)
    probs = model.predict(X)
    y = np.clip(probs / probs.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    expected = -(Y * np.log(y)).sum(-1).mean()
    assert model.evaluate(X, Y, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_running_statistics_move_inside_the_graph_as_eagerly():
    """BatchNormalization changes its running mean and variance in place during the
    step: they go into the traced function as inputs, and end as eager training ends."""
    from lamella.layers import BatchNormalization

    torch._dynamo.reset()
    eager, jitted = eager_and_traced(
        lambda: [Dense(8, input_dim=6), BatchNormalization(), Dense(3, activation="softmax")]
    )
    assert not jitted._whole_step.broken
    norm = jitted.layers[1]
    assert not np.allclose(norm.running_mean.detach().numpy(), 0.0)
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def eager_and_traced(make_layers, loss="categorical_crossentropy"):
    """The same network trained eagerly and with the traced whole step (torch.optim SGD)."""
    models = []
    for jit_compile in (False, TRACED):
        torch.manual_seed(0)
        model = Sequential(make_layers())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)
        model.fit(X, Y, batch_size=32, nb_epoch=3, shuffle=False, verbose=0)
        models.append(model)
    return models


class HeldElsewhere(Layer):
    """``x @ W`` with ``W`` read from the layer's weight list rather than its attribute,
    as some Keras 1 custom layers do: torch.func's stand-in for ``W`` never reaches it."""

    def build(self, input_shape):
        self.add_weight((input_shape[-1], 3), "glorot_uniform", name="W")

    def call(self, x, mask=None):
        return x @ self.trainable_weights[0]

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], 3)


def test_a_weight_read_other_than_as_an_attribute_keeps_the_step_per_part():
    """The first batch's gradients, by autograd and by torch.func, differ for that weight:
    one warning naming it, and the eager results rather than a silently frozen weight."""

    torch._dynamo.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eager, jitted = eager_and_traced(
            lambda: [Dense(4, input_dim=6, W_regularizer="l2"), HeldElsewhere()], loss="mse"
        )
    said = [str(w.message) for w in caught if "one graph" in str(w.message)]
    assert len(said) == 1 and "W differs" in said[0]
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_weight_penalties_are_differentiated_inside_the_graph():
    """A regularized weight's penalty reads the weight by name, so the traced step
    differentiates it: the same weights as eager, and no fallback."""

    torch._dynamo.reset()
    eager, jitted = eager_and_traced(
        lambda: [Dense(5, input_dim=6, W_regularizer="l2", b_regularizer="l1"), Dense(3)],
        loss="mse",
    )
    assert not jitted._whole_step.broken
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
