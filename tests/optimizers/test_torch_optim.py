"""Keras 1's optimizers are torch.optim optimizers: lr schedulers, GradScaler, state_dict
and torch.compile drive them as they drive torch's own, and Keras's rules still hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from lamella import backend as K
from lamella.engine.optimizer import TorchOptimizer
from lamella.optim import SGD, Adadelta, Adagrad, Adam, Adamax, Nadam, RMSprop

RNG = np.random.default_rng(3)
X = torch.tensor(RNG.normal(size=(6, 3)), dtype=torch.float32)
Y = torch.tensor(RNG.normal(size=(6, 2)), dtype=torch.float32)
START = [RNG.normal(scale=0.5, size=(3, 2)).astype("float32"), np.zeros(2, dtype="float32")]


def parameters() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.tensor(v)) for v in START]


def loss_of(params: list[torch.Tensor]) -> torch.Tensor:
    w, b = params
    return ((torch.tanh(X.to(w.dtype) @ w + b) - Y.to(w.dtype)) ** 2).mean()


def run(optimizer, params, steps: int, step=None) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(params).backward()
        (step or optimizer.step)()


ALL = [SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_each_is_a_torch_optimizer_with_one_group_of_the_bound_weights(cls):
    optimizer = cls()
    assert isinstance(optimizer, torch.optim.Optimizer)
    params = parameters()
    optimizer.bind(params)
    (group,) = optimizer.param_groups
    assert group["params"] == params
    assert group["lr"] is optimizer.lr  # one number for K.set_value and schedulers


def test_an_lr_scheduler_sets_the_rate_keras_reads_and_the_rule_uses():
    params = parameters()
    optimizer = SGD(lr=0.4)
    optimizer.bind(params)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    expected = [v.astype("float64") for v in START]
    for step in range(4):
        rate = 0.4 * 0.5**step
        assert K.get_value(optimizer.lr) == pytest.approx(rate)
        reference = [torch.tensor(v, requires_grad=True) for v in expected]
        loss_of(reference).backward()
        expected = [v - rate * r.grad.numpy() for v, r in zip(expected, reference, strict=True)]
        run(optimizer, params, 1)
        scheduler.step()
    for p, e in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-5, atol=1e-6)
    K.set_value(optimizer.lr, 0.01)  # and the other way round
    assert float(optimizer.param_groups[0]["lr"]) == pytest.approx(0.01)


def test_an_lr_scheduler_on_a_wrapped_torch_optimizer_shows_in_its_lr():
    params = parameters()
    optimizer = TorchOptimizer(torch.optim.SGD, lr=0.2)
    optimizer.bind(params)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.1)
    run(optimizer, params, 1)
    scheduler.step()
    assert K.get_value(optimizer.lr) == pytest.approx(0.02)
    assert optimizer.torch_optimizer.param_groups[0]["lr"] == pytest.approx(0.02)


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam, Nadam], ids=lambda c: c.__name__)
def test_state_dict_resumes_training_exactly(cls):
    straight_params, resumed_params = parameters(), parameters()
    straight = cls(lr=0.01)
    straight.bind(straight_params)
    run(straight, straight_params, 6)

    first = cls(lr=0.01)
    first.bind(resumed_params)
    run(first, resumed_params, 3)
    saved = first.state_dict()
    second = cls(lr=0.5)  # the saved rate wins, as in torch.optim
    second.bind(resumed_params)
    second.load_state_dict(saved)
    assert K.get_value(second.lr) == pytest.approx(0.01)
    assert float(second.iterations) == float(first.iterations)
    run(second, resumed_params, 3)
    for a, b in zip(straight_params, resumed_params, strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    for a, b in zip(straight.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_grad_scaler_skips_an_overflowing_keras_step_and_counts_nothing():
    params = parameters()
    optimizer = Adam(lr=0.1)
    optimizer.bind(params)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    scaler.scale(loss_of(params) * float("inf")).backward()
    scaler.step(optimizer)
    scaler.update()
    np.testing.assert_array_equal(params[0].detach().numpy(), START[0])
    assert float(optimizer.iterations) == 0 and scaler.get_scale() == 2.0**9

    reference = parameters()
    plain = Adam(lr=0.1)
    plain.bind(reference)
    optimizer.zero_grad()
    scaler.scale(loss_of(params)).backward()
    scaler.step(optimizer)
    run(plain, reference, 1)
    for a, b in zip(params, reference, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)


VARIANTS = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, decay=0.05)),
    (RMSprop, dict(lr=0.01, decay=0.1)),
    (Adagrad, {}),
    (Adadelta, {}),
    (Adam, dict(decay=0.01)),
    (Adamax, {}),
    (Nadam, {}),
]


@pytest.mark.parametrize(("cls", "arguments"), VARIANTS, ids=lambda v: getattr(v, "__name__", ""))
def test_compiled_updates_match_eager_without_a_graph_per_step(cls, arguments):
    """compile_step (jit_compile) passes the changing rate and step count as tensors,
    so the graphs compiled for the first steps serve every later one."""
    torch._dynamo.reset()
    eager_params, compiled_params = parameters(), parameters()
    eager, compiled = cls(**arguments), cls(**arguments)
    eager.bind(eager_params)
    compiled.bind(compiled_params)
    compiled.compile_step({"backend": "aot_eager"})
    counters.clear()
    run(eager, eager_params, 2)
    run(compiled, compiled_params, 2)
    graphs = counters["stats"]["unique_graphs"]
    run(eager, eager_params, 6)
    run(compiled, compiled_params, 6)
    assert counters["stats"]["unique_graphs"] == graphs
    for a, b in zip(eager_params, compiled_params, strict=True):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(eager.get_weights(), compiled.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_torch_compile_of_step_itself_matches_eager():
    """A user's own ``torch.compile(optimizer.step)`` runs Keras's rule unchanged."""
    torch._dynamo.reset()
    eager_params, compiled_params = parameters(), parameters()
    eager, compiled = RMSprop(lr=0.01), RMSprop(lr=0.01)
    eager.bind(eager_params)
    compiled.bind(compiled_params)
    run(eager, eager_params, 4)
    run(compiled, compiled_params, 4, torch.compile(compiled.step, backend="aot_eager"))
    for a, b in zip(eager_params, compiled_params, strict=True):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-6)
