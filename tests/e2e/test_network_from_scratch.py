"""examples/network_from_scratch.py: the notes' numpy network and lamella take the same steps.

The example is imported by its path, without scikit-learn (this session does not install
it): the tests make their own small data set and drive the example's pieces directly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from lamella import backend as K
from lamella.optimizers import SGD

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "network_from_scratch.py"
SIZES = [6, 8, 3]


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("network_from_scratch", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def floatx():
    """Lets a test change floatx; restores it afterwards."""
    saved = K.floatx()
    yield K.set_floatx
    K.set_floatx(saved)


def data(example: ModuleType, n: int, seed: int) -> tuple[list, list]:
    """``n`` training and ``n // 2`` test samples whose class a fixed linear map decides."""
    rng = np.random.default_rng(seed)
    x = rng.random((n + n // 2, SIZES[0]))
    labels = (x @ np.random.default_rng(0).standard_normal((SIZES[0], SIZES[-1]))).argmax(axis=1)
    training_data = example.samples(x[:n], labels[:n], SIZES[-1])
    test_data = [
        (row.reshape(-1, 1), int(label)) for row, label in zip(x[n:], labels[n:], strict=True)
    ]
    return training_data, test_data


def start(example: ModuleType, eta: float, seed: int = 5):
    """The numpy network and the lamella model, holding the same starting weights."""
    net = example.Network(SIZES, np.random.default_rng(seed))
    model = example.build(SIZES, eta)
    model.set_weights(example.keras_weights(net))
    # Only float32's rounding of the starting values may differ.
    assert example.largest_difference(net, model) < 1e-6
    return net, model


def cost(net, training_data: list) -> float:
    """The notes' cost, ``1/2 * sum((a - y)**2)`` averaged over the samples."""
    return float(np.mean([0.5 * ((net.feedforward(x) - y) ** 2).sum() for x, y in training_data]))


# In float32 the rounding of each step adds up (to about 1e-6 here); in float64 only the
# order of the additions differs, so the weights agree to about 1e-15.
@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("float64", 1e-12)])
def test_same_weights_and_batches_give_the_same_trajectory(example, floatx, dtype, tolerance):
    floatx(dtype)
    training_data, test_data = data(example, 120, seed=1)
    net, model = start(example, eta=3.0)
    before = cost(net, training_data)

    # Batches of 7 leave a last batch of 1: each step must average over the batch it has.
    history = example.train_both(net, model, training_data, 8, 7, 3.0, test_data)

    for numpy_right, lamella_right, difference in history:
        assert lamella_right == numpy_right
        assert difference < tolerance
    # Not two models standing still: the cost fell and the test counts moved.
    assert cost(net, training_data) < 0.5 * before
    assert len({right for right, _, _ in history}) > 3


def test_half_eta_is_not_the_notes_step_with_several_outputs(example, floatx):
    """``SGD(lr=eta / 2)`` would be right for one output unit; with k it is k times too small."""
    floatx("float64")
    training_data, _ = data(example, 20, seed=2)
    net, model = start(example, eta=3.0)
    model.compile(loss="mse", optimizer=SGD(lr=3.0 / 2))
    net.update_mini_batch(training_data, 3.0)
    model.train_on_batch(*example.stack(training_data))
    assert example.largest_difference(net, model) > 1e-3


def test_backprop_is_the_gradient_of_the_notes_cost(example):
    """Against central finite differences of ``C = 1/2 * sum((a - y)**2)`` on a tiny network."""
    rng = np.random.default_rng(3)
    net = example.Network([3, 4, 2], rng)
    x, y = rng.random((3, 1)), np.array([[0.0], [1.0]])

    def cost() -> float:
        return 0.5 * float(((net.feedforward(x) - y) ** 2).sum())

    nabla_b, nabla_w = net.backprop(x, y)
    h = 1e-6
    for params, grads in ((net.biases, nabla_b), (net.weights, nabla_w)):
        for param, grad in zip(params, grads, strict=True):
            assert grad.shape == param.shape
            numeric = np.zeros_like(param)
            for index in np.ndindex(param.shape):
                saved = param[index]
                param[index] = saved + h
                up = cost()
                param[index] = saved - h
                down = cost()
                param[index] = saved
                numeric[index] = (up - down) / (2 * h)
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-10)


def test_lamella_lr_undoes_the_mean_over_outputs(example):
    assert example.lamella_lr(3.0, 10) == 15.0
    assert example.lamella_lr(3.0, 1) == 1.5  # one output: the familiar eta / 2
