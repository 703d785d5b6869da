"""Keras 1 regularizers and constraints against numpy formulas."""

from functools import partial

import numpy as np
import pytest
import torch

from lamella import constraints, regularizers

EPS = 1e-7
W = np.random.default_rng(11).normal(size=(5, 4, 3, 3)).astype(np.float32)


@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.0), (0.01, 0.0), (0.0, 0.02), (0.3, 0.1)])
def test_l1l2_penalty_is_plain_sums(l1, l2):
    penalty = regularizers.L1L2Regularizer(l1=l1, l2=l2)(torch.from_numpy(W))
    assert penalty.shape == ()
    w = W.astype(np.float64)
    np.testing.assert_allclose(penalty.item(), l1 * np.abs(w).sum() + l2 * (w**2).sum(), rtol=1e-5)


def test_l1l2_gradient_is_l1_sign_plus_twice_l2_w():
    w = torch.from_numpy(W[0, 0]).requires_grad_(True)
    regularizers.L1L2Regularizer(l1=0.3, l2=0.1)(w).backward()
    expected = 0.3 * np.sign(W[0, 0]) + 2 * 0.1 * W[0, 0]
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("factory", "l1", "l2"),
    [
        (regularizers.l1, 0.01, 0.0),
        (regularizers.l2, 0.0, 0.01),
        (regularizers.l1l2, 0.01, 0.01),
        (regularizers.activity_l1, 0.01, 0.0),
        (regularizers.activity_l2, 0.0, 0.01),
        (regularizers.activity_l1l2, 0.01, 0.01),
        (regularizers.WeightRegularizer, 0.0, 0.0),
        (regularizers.ActivityRegularizer, 0.0, 0.0),
    ],
)
def test_shortcuts_build_l1l2_with_keras_defaults(factory, l1, l2):
    regularizer = factory()
    assert type(regularizer) is regularizers.L1L2Regularizer
    assert regularizer.get_config() == {"name": "L1L2Regularizer", "l1": l1, "l2": l2}


def test_shortcut_arguments():
    assert regularizers.l2(0.5).l2 == 0.5
    assert regularizers.l1(np.float32(0.25)).get_config()["l1"] == 0.25
    assert regularizers.l1(l=0.25).l1 == 0.25
    config = regularizers.l1l2(l1=0.1, l2=0.2).get_config()
    assert (config["l1"], config["l2"]) == (0.1, 0.2)


def test_base_regularizer_penalises_nothing():
    regularizer = regularizers.Regularizer()
    penalty = regularizer(torch.ones(3, dtype=torch.float64))
    assert penalty.item() == 0.0
    assert penalty.dtype == torch.float64
    assert regularizer.get_config() == {"name": "Regularizer"}


def test_regularizer_errors_name_the_culprit():
    with pytest.raises(TypeError, match=r"L1L2Regularizer: l2 must be a number, got '0.1'"):
        regularizers.L1L2Regularizer(l2="0.1")
    with pytest.raises(TypeError, match=r"L1L2Regularizer: expected a torch.Tensor.*ndarray"):
        regularizers.l2()(W)


def np_norms(p, axis):
    return np.sqrt(np.sum(p.astype(np.float64) ** 2, axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, [0, 1, 2], (1, 2, 3)])
@pytest.mark.parametrize(
    ("factory", "desired"),
    [
        (constraints.MaxNorm, lambda n: np.clip(n, 0, 2)),
        (partial(constraints.MaxNorm, m=1.5), lambda n: np.clip(n, 0, 1.5)),
        (constraints.UnitNorm, lambda n: np.ones_like(n)),
        (constraints.MinMaxNorm, lambda n: np.clip(n, 0.0, 1.0)),
        (
            partial(constraints.MinMaxNorm, low=2.0, high=3.0, rate=0.25),
            lambda n: 0.25 * np.clip(n, 2.0, 3.0) + 0.75 * n,
        ),
    ],
    ids=["maxnorm", "maxnorm-1.5", "unitnorm", "minmaxnorm", "minmaxnorm-rate"],
)
def test_norm_constraints_rescale_along_axis(factory, desired, axis):
    out = factory(axis=axis)(torch.from_numpy(W))
    norms = np_norms(W, tuple(axis) if isinstance(axis, list) else axis)
    expected = W * desired(norms) / (EPS + norms)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_maxnorm_leaves_short_columns_alone():
    """Default axis 0: each Dense unit's incoming weight vector is constrained."""
    w = torch.tensor([[3.0, 0.3], [4.0, 0.4]])
    out = constraints.MaxNorm(m=2)(w)
    np.testing.assert_allclose(out[:, 0].numpy(), [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1].numpy(), [0.3, 0.4], rtol=1e-6)


def test_nonneg_zeroes_negatives():
    out = constraints.NonNeg()(torch.from_numpy(W))
    np.testing.assert_array_equal(out.numpy(), np.where(W >= 0, W, 0))


def test_base_constraint_is_identity():
    w = torch.from_numpy(W)
    assert constraints.Constraint()(w) is w


@pytest.mark.parametrize(
    ("constraint", "config"),
    [
        (constraints.Constraint(), {"name": "Constraint"}),
        (constraints.MaxNorm(), {"name": "MaxNorm", "m": 2, "axis": 0}),
        (constraints.maxnorm(3, axis=(0, 1)), {"name": "MaxNorm", "m": 3, "axis": [0, 1]}),
        (constraints.UnitNorm(axis=np.int64(2)), {"name": "UnitNorm", "axis": 2}),
        (constraints.NonNeg(), {"name": "NonNeg"}),
        (constraints.UnitNorm(axis=1), {"name": "UnitNorm", "axis": 1}),
        (
            constraints.MinMaxNorm(),
            {"name": "MinMaxNorm", "low": 0.0, "high": 1.0, "rate": 1.0, "axis": 0},
        ),
    ],
)
def test_constraint_configs(constraint, config):
    assert constraint.get_config() == config


@pytest.mark.parametrize(
    ("alias", "cls"),
    [
        ("maxnorm", "MaxNorm"),
        ("nonneg", "NonNeg"),
        ("unitnorm", "UnitNorm"),
        ("minmaxnorm", "MinMaxNorm"),
    ],
)
def test_lowercase_aliases(alias, cls):
    assert getattr(constraints, alias) is getattr(constraints, cls)
    assert constraints.BUILTINS[cls][0] == alias  # then Keras 2's name (max_norm ...)


def test_constraint_errors_name_the_culprit():
    with pytest.raises(TypeError, match=r"MaxNorm: axis must be an int or a sequence of ints"):
        constraints.MaxNorm(axis="0")
    with pytest.raises(TypeError, match=r"UnitNorm: expected a torch.Tensor.*ndarray"):
        constraints.UnitNorm()(W)


def test_regularizer_builtins():
    assert regularizers.BUILTINS["L1L2Regularizer"] == ("WeightRegularizer", "ActivityRegularizer")
    assert {"l1", "l2", "l1l2"} <= set(regularizers.BUILTINS)
