"""Trainable flags take effect at compile, as in Keras 1; frozen models train as no-ops.

The GAN recipe of Keras 1.2.2's examples: compile the discriminator, freeze it, build
and compile the combined model; then each model trains its own weights.  Updates are
checked against the same step written by hand with torch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.constraints import nonneg
from lamella.engine import trainability
from lamella.layers import Dense, Input
from lamella.models import Model, Sequential

LR = 0.5


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


def gan(discriminator_constraint=None):
    """discriminator compiled, then frozen, then combined = D(G(z)) compiled: Keras 1's recipe."""
    torch.manual_seed(0)
    discriminator = Sequential(
        [
            Dense(4, input_dim=3, activation="tanh", W_constraint=discriminator_constraint),
            Dense(1, activation="sigmoid"),
        ]
    )
    discriminator.compile(optimizer=fixed_sgd(LR), loss="mse")
    generator = Sequential([Dense(3, input_dim=2, activation="tanh")])
    discriminator.trainable = False
    z = Input(shape=(2,))
    combined = Model(z, discriminator(generator(z)))
    combined.compile(optimizer=fixed_sgd(LR), loss="mse")
    return discriminator, generator, combined


def batch(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 3)).astype("float32")
    z = rng.standard_normal((8, 2)).astype("float32")
    y = rng.uniform(size=(8, 1)).astype("float32")
    return x, z, y


def sgd_reference(d_weights, g_weights, x, z, y, train):
    """One SGD step by hand on mse; ``train`` says which network's weights move."""
    d = [torch.tensor(w, dtype=torch.float64, requires_grad=train == "d") for w in d_weights]
    g = [torch.tensor(w, dtype=torch.float64, requires_grad=train == "g") for w in g_weights]

    def discriminate(inputs):
        hidden = torch.tanh(inputs @ d[0] + d[1])
        return torch.sigmoid(hidden @ d[2] + d[3])

    if train == "d":
        prediction = discriminate(torch.tensor(x, dtype=torch.float64))
    else:
        fake = torch.tanh(torch.tensor(z, dtype=torch.float64) @ g[0] + g[1])
        prediction = discriminate(fake)
    loss = ((prediction - torch.tensor(y, dtype=torch.float64)) ** 2).mean()
    moving = d if train == "d" else g
    loss.backward()
    stepped = [(w - LR * w.grad).detach().numpy() for w in moving]
    return float(loss.detach()), stepped


def assert_same(got, want):
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gan_recipe_each_model_trains_the_weights_it_was_compiled_with():
    discriminator, generator, combined = gan()
    for round_ in range(3):
        x, z, y = batch(round_)
        d_before, g_before = discriminator.get_weights(), generator.get_weights()
        loss = discriminator.train_on_batch(x, y)
        want_loss, want_d = sgd_reference(d_before, g_before, x, z, y, train="d")
        assert loss == pytest.approx(want_loss, rel=1e-5)
        assert_same(discriminator.get_weights(), want_d)
        assert_same(generator.get_weights(), g_before)

        d_before = discriminator.get_weights()
        loss = combined.train_on_batch(z, y)
        want_loss, want_g = sgd_reference(d_before, g_before, x, z, y, train="g")
        assert loss == pytest.approx(want_loss, rel=1e-5)
        assert_same(generator.get_weights(), want_g)
        assert_same(discriminator.get_weights(), d_before)


def test_gan_recipe_with_fit_and_a_shared_torch_optimizer_instance():
    """A torch.optim instance built from all of combined's parameters still leaves D alone."""
    discriminator, generator, _ = gan()
    z = Input(shape=(2,))
    combined = Model(z, discriminator(generator(z)))
    combined.compile(optimizer=torch.optim.SGD(combined.parameters(), lr=LR), loss="mse")
    x, z_batch, y = batch(5)
    discriminator.fit(x, y, batch_size=8, nb_epoch=1, verbose=0)
    d_before, g_before = discriminator.get_weights(), generator.get_weights()
    combined.fit(z_batch, y, batch_size=8, nb_epoch=1, verbose=0)
    _, want_g = sgd_reference(d_before, g_before, x, z_batch, y, train="g")
    assert_same(generator.get_weights(), want_g)
    assert_same(discriminator.get_weights(), d_before)


def test_frozen_discriminator_constraints_are_not_applied_by_the_combined_model():
    discriminator, _, combined = gan(discriminator_constraint=nonneg())
    kernel = discriminator.layers[0].get_weights()
    kernel[0][:] = -1.0  # violates nonneg: a constraint applied here would clip it to 0
    discriminator.layers[0].set_weights(kernel)
    before = discriminator.get_weights()
    _, z, y = batch(1)
    combined.train_on_batch(z, y)
    assert_same(discriminator.get_weights(), before)
    discriminator.train_on_batch(batch(1)[0], y)
    assert discriminator.layers[0].get_weights()[0].min() >= 0.0


def test_a_trainable_change_after_compile_waits_for_the_next_compile():
    torch.manual_seed(0)
    model = Sequential([Dense(2, input_dim=3)])
    model.compile(optimizer=fixed_sgd(0.1), loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.layers[0].trainable = False
    # requires_grad follows at once, for torch code around the model ...
    assert not any(p.requires_grad for p in model.parameters())
    before = model.get_weights()
    model.train_on_batch(x, y)
    # ... but the compiled model trains what it was compiled with (Keras 1)
    assert not np.allclose(model.get_weights()[0], before[0])
    model.compile(optimizer=fixed_sgd(0.1), loss="mse")
    before = model.get_weights()
    model.train_on_batch(x, y)
    assert_same(model.get_weights(), before)


def test_a_model_training_alone_puts_its_flags_back_only_once(monkeypatch):
    torch.manual_seed(0)
    model = Sequential([Dense(2, input_dim=3)])
    model.compile(optimizer=fixed_sgd(0.1), loss="mse")
    calls = []
    restore = trainability.GradFlags.restore

    def counting(self):
        calls.append(self)
        restore(self)

    monkeypatch.setattr(trainability.GradFlags, "restore", counting)
    x, y = np.ones((32, 3), "float32"), np.zeros((32, 2), "float32")
    for _ in range(3):
        model.train_on_batch(x, y)
    assert len(calls) == 1
    model.layers[0].trainable = False  # anyone touching flags makes the next step look again
    model.train_on_batch(x, y)
    assert len(calls) == 2
    model.fit(x, y, batch_size=4, nb_epoch=2, verbose=0)  # once per fit, not per batch
    assert len(calls) == 3


def test_model_flag_leaves_layer_flags_alone_as_in_keras_1():
    x = Input(shape=(1,))
    first, second = Dense(2), Dense(2)
    model = Model(x, second(first(x)))
    second.trainable = False
    model.trainable = False
    assert model.trainable_weights == []
    assert first.trainable and not second.trainable
    assert not any(p.requires_grad for p in model.parameters())
    assert len(model.non_trainable_weights) == 4 and len(model.weights) == 4
    model.trainable = True
    kernel, bias = first.trainable_weights
    assert len(model.trainable_weights) == 2
    assert model.trainable_weights[0] is kernel and model.trainable_weights[1] is bias
    assert all(p.requires_grad for p in first.parameters())
    assert not any(p.requires_grad for p in second.parameters())


@pytest.mark.parametrize("inner_kind", ["sequential", "functional"])
@pytest.mark.parametrize("outer_kind", ["sequential", "functional"])
def test_nested_model_trainable_weights(inner_kind, outer_kind):
    if inner_kind == "sequential":
        inner = Sequential([Dense(2, input_dim=1)])
    else:
        xi = Input(shape=(1,))
        inner = Model(xi, Dense(2)(xi))
    if outer_kind == "sequential":
        outer = Sequential([inner])
    else:
        xo = Input(shape=(1,))
        outer = Model(xo, inner(xo))
    kernel, bias = inner.layers[-1].trainable_weights
    assert outer.trainable_weights[0] is kernel and outer.trainable_weights[1] is bias
    inner.trainable = False
    assert outer.trainable_weights == []
    inner.trainable = True
    assert len(outer.trainable_weights) == 2
    inner.layers[-1].trainable = False
    assert outer.trainable_weights == []
    assert len(outer.non_trainable_weights) == 2


def frozen_model():
    torch.manual_seed(0)
    model = Sequential([Dense(2, input_dim=3, trainable=False)])
    model.compile(optimizer=fixed_sgd(0.1), loss="mse", metrics=["mae"])
    return model


def test_a_frozen_model_trains_as_a_no_op_and_reports_loss_and_metrics():
    model = frozen_model()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 3)).astype("f"), rng.standard_normal((10, 2)).astype("f")
    before = model.get_weights()
    prediction = x @ before[0] + before[1]
    loss, mae = model.train_on_batch(x, y)
    assert loss == pytest.approx(np.mean((prediction - y) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(prediction - y)), rel=1e-5)
    history = model.fit(x, y, batch_size=3, nb_epoch=2, verbose=0)
    assert history.history["loss"] == pytest.approx([np.mean((prediction - y) ** 2)] * 2, rel=1e-5)
    assert_same(model.get_weights(), before)


def test_a_frozen_model_compiled_with_a_torch_optimizer_class():
    model = Sequential([Dense(2, input_dim=3)])
    model.trainable = False
    model.compile(optimizer=torch.optim.Adam, loss="mse")  # torch.optim refuses no parameters
    before = model.get_weights()
    model.fit(np.ones((4, 3), "f"), np.zeros((4, 2), "f"), nb_epoch=1, verbose=0)
    assert_same(model.get_weights(), before)


def test_an_unfrozen_model_trains_again_after_compile():
    model = frozen_model()
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.layers[0].trainable = True
    model.compile(optimizer=fixed_sgd(0.1), loss="mse")
    kernel, bias = model.get_weights()
    model.train_on_batch(x, y)
    # mse over 4 x 2 cells: d loss / d prediction = 2 (prediction - y) / 8
    grad_out = 2 * (x @ kernel + bias - y) / y.size
    assert_same(model.get_weights(), [kernel - 0.1 * x.T @ grad_out, bias - 0.1 * grad_out.sum(0)])
