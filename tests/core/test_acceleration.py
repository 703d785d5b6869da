"""compile(jit_compile=..., mixed_precision=...): same results as eager float32, or close."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from lamella.engine.acceleration import Acceleration
from lamella.engine.optimizer import TorchOptimizer
from lamella.layers import Dense, Dropout
from lamella.models import Sequential


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 8)).astype("float32")
Y = np.eye(3, dtype="float32")[RNG.integers(3, size=64)]


def trained(**options):
    torch.manual_seed(0)
    model = Sequential(
        [Dense(16, input_dim=8, activation="relu"), Dropout(0.0), Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=fixed_sgd(0.1), loss="categorical_crossentropy", metrics=["accuracy"], **options
    )
    history = model.fit(X, Y, batch_size=16, nb_epoch=3, shuffle=False, verbose=0)
    return model, history


def test_jit_compile_trains_and_predicts_like_eager():
    """torch.compile with the aot_eager backend: dynamo and AOTAutograd, no C++ build."""
    torch._dynamo.reset()
    eager, eager_history = trained()
    jitted, jit_history = trained(jit_compile={"backend": "aot_eager"})
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        jit_history.history["loss"], eager_history.history["loss"], rtol=1e-5
    )
    np.testing.assert_allclose(jitted.predict(X), eager.predict(X), rtol=1e-5, atol=1e-6)
    assert jitted.evaluate(X, Y, verbose=0) == pytest.approx(eager.evaluate(X, Y, verbose=0))


def test_jit_compile_compiles_once_whatever_the_last_batch():
    """The whole step is compiled for the epoch's batch size; the shorter last batch
    (64 samples in batches of 24: 24, 24, 16) runs eagerly rather than compiling again."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    torch.manual_seed(0)
    model = Sequential([Dense(16, input_dim=8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(
        optimizer=fixed_sgd(0.1), loss="categorical_crossentropy", jit_compile={"backend": "eager"}
    )
    model.fit(X, Y, batch_size=24, nb_epoch=1, verbose=0)
    model.predict(X, batch_size=24)
    graphs = counters["stats"]["unique_graphs"]
    assert graphs > 0
    model.fit(X, Y, batch_size=24, nb_epoch=3, verbose=0)
    model.predict(X, batch_size=24)
    assert counters["stats"]["unique_graphs"] == graphs


def test_jit_compile_with_a_torch_optimizer_logs_nothing(caplog):
    """Compiling torch.optim's step makes dynamo log that it leaves out the step's profiler
    hook; lamella compiled that step unasked, so the notice is dropped."""
    from torch._logging._internal import warning_once

    warning_once.cache_clear()  # dynamo logs each notice once per process
    torch._dynamo.reset()
    model = Sequential([Dense(3, input_dim=8, activation="softmax")])
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    model.compile(optimizer, "categorical_crossentropy", jit_compile={"backend": "eager"})
    with caplog.at_level(logging.WARNING):
        model.fit(X, Y, batch_size=16, nb_epoch=1, verbose=0)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("torch")] == []


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_close_to_float32(precision):
    full, full_history = trained()
    mixed, mixed_history = trained(mixed_precision=precision)
    np.testing.assert_allclose(
        mixed_history.history["loss"], full_history.history["loss"], rtol=0.05
    )
    predictions = mixed.predict(X)
    assert predictions.dtype == np.float32
    np.testing.assert_allclose(predictions, full.predict(X), atol=0.05)
    assert all(w.dtype == torch.float32 for w in mixed.trainable_weights)


def test_grad_scaler_drives_a_lamella_step_skipping_an_overflow():
    """fp16 training scales the loss with torch.amp.GradScaler, which drives lamella's
    optimizers as torch.optim ones: an overflowing step is skipped and the scale halves."""
    weight = torch.nn.Parameter(torch.ones(3))
    wrapped = TorchOptimizer(fixed_sgd(1.0))
    wrapped.bind([weight])
    acceleration = Acceleration(torch.device("cpu"), mixed_precision="fp16")
    scaler = acceleration.scaler
    assert isinstance(scaler, torch.amp.GradScaler)
    start = scaler.get_scale()
    acceleration.backward_and_step((weight * torch.tensor(float("inf"))).sum(), wrapped)
    np.testing.assert_array_equal(weight.detach().numpy(), [1, 1, 1])  # step skipped
    assert scaler.get_scale() == start / 2
    weight.grad = None
    acceleration.backward_and_step((weight * 2).sum(), wrapped)
    np.testing.assert_allclose(weight.detach().numpy(), [-1, -1, -1])  # unscaled gradient 2


def test_bad_options_are_refused():
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match="mixed_precision must be None, 'bf16' or 'fp16'"):
        model.compile(optimizer=fixed_sgd(0.1), loss="mse", mixed_precision="fp8")
    with pytest.raises(TypeError, match="jit_compile must be True, False or a dict"):
        model.compile(optimizer=fixed_sgd(0.1), loss="mse", jit_compile="yes")


def test_a_layer_slower_compiled_on_a_device_keeps_its_model_eager_there():
    """``Layer.eager_on``: a plugin's layer that torch.compile makes slower on the CPU
    leaves jit_compile=True eager there, with one warning naming the layer."""
    from torch._dynamo.utils import counters

    class SlowCompiled(Dense):
        eager_on = frozenset({"cpu"})

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = Sequential([SlowCompiled(3, input_dim=8, activation="softmax")])
    with pytest.warns(UserWarning, match="jit_compile=True is ignored on the cpu.*SlowCompiled"):
        model.compile(
            optimizer=fixed_sgd(0.1),
            loss="categorical_crossentropy",
            jit_compile=True,
            device="cpu",
        )
    model.fit(X, Y, nb_epoch=1, verbose=0)
    assert model._whole_step is None
    assert counters["stats"]["unique_graphs"] == 0  # nothing went through torch.compile
