"""Keras 1 objectives against numpy formulas; also the alias tables of every core module."""

import importlib

import numpy as np
import pytest
import torch

from lamella import losses, objectives
from lamella.backend.config import epsilon, set_epsilon

EPS = 1e-7
F32 = np.float32


def clip32(x, low, high):
    """Clip as float32 does it (1 - 1e-7 is not representable), then compute in float64."""
    return np.clip(x.astype(F32), F32(low), F32(high)).astype(np.float64)


def np_categorical(t, p):
    p = p / p.sum(axis=-1, keepdims=True)
    return -np.sum(t * np.log(clip32(p, EPS, 1 - EPS)), axis=-1)


def np_binary(t, p):
    p = clip32(p, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1)


def np_unit(x):
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=-1, keepdims=True), EPS))


REFERENCES = {
    "mean_squared_error": lambda t, p: np.mean((p - t) ** 2, axis=-1),
    "mean_absolute_error": lambda t, p: np.mean(np.abs(p - t), axis=-1),
    "mean_absolute_percentage_error": lambda t, p: (
        100 * np.mean(np.abs((t - p) / np.clip(np.abs(t), EPS, None)), axis=-1)
    ),
    "mean_squared_logarithmic_error": lambda t, p: np.mean(
        (np.log(np.clip(p, EPS, None) + 1) - np.log(np.clip(t, EPS, None) + 1)) ** 2, axis=-1
    ),
    "squared_hinge": lambda t, p: np.mean(np.maximum(1 - t * p, 0) ** 2, axis=-1),
    "hinge": lambda t, p: np.mean(np.maximum(1 - t * p, 0), axis=-1),
    "binary_crossentropy": np_binary,
    "categorical_crossentropy": np_categorical,
    "kullback_leibler_divergence": lambda t, p: np.sum(
        clip32(t, EPS, 1) * np.log(clip32(t, EPS, 1) / clip32(p, EPS, 1)), axis=-1
    ),
    "poisson": lambda t, p: np.mean(p - t * np.log(p + EPS), axis=-1),
    "cosine_proximity": lambda t, p: -np.mean(np_unit(t) * np_unit(p), axis=-1),
}


def draw(kind, shape, rng):
    """Targets/predictions in the domain each loss expects, with its edge values mixed in."""
    if kind == "real":
        x = rng.normal(size=shape)
        x.flat[0] = 0.0
    elif kind == "positive":
        x = rng.uniform(0.1, 3.0, size=shape)
    elif kind == "sign":
        x = rng.choice([-1.0, 1.0], size=shape)
    elif kind == "bits":
        x = rng.integers(0, 2, size=shape).astype(float)
    elif kind == "unit":
        x = rng.uniform(0.0, 1.0, size=shape)
        x.flat[:2] = [0.0, 1.0]
    elif kind == "onehot":
        x = np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]
    else:  # "simplex": probability rows, one entry zeroed
        x = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        x.flat[0] = 0.0
        x /= x.sum(axis=-1, keepdims=True)
    return x.astype(F32)


CASES = [
    ("mean_squared_error", "real", "real"),
    ("mean_absolute_error", "real", "real"),
    ("mean_absolute_percentage_error", "real", "real"),
    ("mean_squared_logarithmic_error", "real", "positive"),
    ("squared_hinge", "sign", "real"),
    ("hinge", "sign", "real"),
    ("binary_crossentropy", "bits", "unit"),
    ("categorical_crossentropy", "onehot", "positive"),
    ("categorical_crossentropy", "simplex", "simplex"),
    ("kullback_leibler_divergence", "simplex", "simplex"),
    ("poisson", "positive", "positive"),
    ("cosine_proximity", "real", "real"),
]


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize(("name", "true_kind", "pred_kind"), CASES)
def test_loss_matches_numpy_per_sample(name, true_kind, pred_kind, shape):
    rng = np.random.default_rng(len(name) + len(shape))
    t, p = draw(true_kind, shape, rng), draw(pred_kind, shape, rng)
    out = getattr(losses, name)(torch.from_numpy(t), torch.from_numpy(p))
    assert out.shape == shape[:-1]
    assert out.dtype == torch.float32
    expected = REFERENCES[name](t.astype(np.float64), p.astype(np.float64))
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-5, atol=1e-5)


def test_cosine_proximity_of_zero_vector_is_zero_not_nan():
    out = losses.cosine_proximity(torch.zeros(2, 3), torch.ones(2, 3))
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0])


@pytest.mark.parametrize(
    ("name", "y_true", "y_pred", "expected"),
    [
        ("binary_crossentropy", [[1.0]], [[0.0]], -np.log(EPS)),
        ("categorical_crossentropy", [[1.0, 0.0]], [[0.0, 1.0]], -np.log(EPS)),
        ("mean_absolute_percentage_error", [[0.0]], [[1.0]], 100 / EPS),
        ("poisson", [[1.0]], [[0.0]], -np.log(EPS)),
    ],
)
def test_epsilon_keeps_degenerate_inputs_finite(name, y_true, y_pred, expected):
    out = getattr(losses, name)(torch.tensor(y_true), torch.tensor(y_pred))
    np.testing.assert_allclose(out.numpy(), [expected], rtol=1e-5)


@pytest.fixture
def epsilon_1e3():
    saved = epsilon()
    set_epsilon(1e-3)
    yield
    set_epsilon(saved)


@pytest.mark.usefixtures("epsilon_1e3")
def test_clipping_reads_the_configured_epsilon():
    out = losses.binary_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.0]]))
    np.testing.assert_allclose(out.numpy(), [-np.log(1e-3)], rtol=1e-5)


def one_hot(index, classes):
    return np.eye(classes)[index]


@pytest.mark.parametrize(
    ("pred_shape", "target_shape", "target_dtype"),
    [
        ((6, 4), (6,), torch.int64),
        ((6, 4), (6, 1), torch.int32),
        ((6, 4), (6, 1), torch.float32),
        ((2, 3, 4), (2, 3, 1), torch.int64),
        ((2, 3, 4), (2, 3), torch.float64),
    ],
)
def test_sparse_crossentropy_equals_categorical_on_one_hot(pred_shape, target_shape, target_dtype):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 1.0, size=pred_shape).astype(F32)
    index = rng.integers(0, pred_shape[-1], size=pred_shape[:-1])
    y_true = torch.from_numpy(index.reshape(target_shape)).to(target_dtype)
    out = losses.sparse_categorical_crossentropy(y_true, torch.from_numpy(p))
    assert out.shape == pred_shape[:-1]
    expected = np_categorical(one_hot(index, pred_shape[-1]), p.astype(np.float64))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("y_true", "error", "message"),
    [
        (
            torch.zeros(3, 2, dtype=torch.long),
            ValueError,
            r"shape \(3,\) or \(3, 1\).*got \(3, 2\)",
        ),
        (torch.tensor([True, False, True]), TypeError, "torch.bool"),
        (np.zeros(3), TypeError, "y_true must be a torch.Tensor, got ndarray"),
    ],
)
def test_sparse_crossentropy_rejects_bad_targets(y_true, error, message):
    with pytest.raises(error, match=rf"sparse_categorical_crossentropy: .*{message}"):
        losses.sparse_categorical_crossentropy(y_true, torch.full((3, 4), 0.25))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_dense_losses_reject_mismatched_shapes(name):
    with pytest.raises(ValueError, match=rf"{name}: .*same shape, got \(4,\) and \(4, 1\)"):
        getattr(losses, name)(torch.zeros(4), torch.zeros(4, 1))


def test_integer_and_double_targets_follow_the_prediction_dtype():
    p = torch.tensor([[0.2, 0.9], [0.6, 0.4]])
    from_int = losses.binary_crossentropy(torch.tensor([[0, 1], [1, 0]]), p)
    from_double = losses.binary_crossentropy(torch.tensor([[0.0, 1.0], [1.0, 0.0]]).double(), p)
    assert from_int.dtype == from_double.dtype == torch.float32
    expected = np_binary(np.array([[0, 1], [1, 0]], float), p.double().numpy())
    np.testing.assert_allclose(from_int.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(from_double.numpy(), expected, rtol=1e-6)


def test_crossentropy_gradient_matches_torch_reference():
    """Inside the clip range, categorical crossentropy is F.cross_entropy on log-probabilities."""
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], requires_grad=True)
    target = torch.tensor([1, 2])
    ours = losses.categorical_crossentropy(torch.eye(3)[target], probs).sum()
    (grad,) = torch.autograd.grad(ours, probs)
    reference_probs = probs.detach().clone().requires_grad_(True)
    normalised = reference_probs / reference_probs.sum(-1, keepdim=True)
    theirs = torch.nn.functional.nll_loss(normalised.log(), target, reduction="sum")
    (expected,) = torch.autograd.grad(theirs, reference_probs)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grad, expected)


KERAS_ALIASES = {
    "mse": "mean_squared_error",
    "MSE": "mean_squared_error",
    "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "MSLE": "mean_squared_logarithmic_error",
    "kld": "kullback_leibler_divergence",
    "KLD": "kullback_leibler_divergence",
    "cosine": "cosine_proximity",
}


@pytest.mark.parametrize(("alias", "canonical"), KERAS_ALIASES.items())
def test_keras_aliases_are_the_same_functions(alias, canonical):
    assert getattr(losses, alias) is getattr(losses, canonical)
    assert alias in losses.BUILTINS[canonical]


def test_builtins_cover_every_keras_1_objective():
    assert set(losses.BUILTINS) == set(REFERENCES) | {"sparse_categorical_crossentropy"}


def test_objectives_is_the_same_api_under_the_keras_1_name():
    assert objectives.BUILTINS is losses.BUILTINS
    for name in losses.__all__:
        assert getattr(objectives, name) is getattr(losses, name)


CORE_MODULES = [
    "activations",
    "losses",
    "objectives",
    "metrics",
    "initializers",
    "initializations",
    "regularizers",
    "constraints",
]


@pytest.mark.parametrize("module_name", CORE_MODULES)
def test_builtins_names_and_aliases_are_module_attributes(module_name):
    """What the registry registers must be what users reach as ``module.name``."""
    module = importlib.import_module(f"lamella.{module_name}")
    assert module.BUILTINS
    for name, aliases in module.BUILTINS.items():
        obj = getattr(module, name)
        assert callable(obj)
        assert obj.__name__ == name
        for alias in aliases:
            assert getattr(module, alias) is obj
