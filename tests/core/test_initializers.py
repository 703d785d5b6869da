"""Keras 1 initializers: fans, types, and the statistics each distribution must have."""

import math
from functools import partial

import numpy as np
import pytest
import torch

from lamella import initializations, initializers
from lamella.backend.config import floatx, set_floatx


@pytest.mark.parametrize(
    ("shape", "dim_ordering", "expected"),
    [
        ((30, 20), "th", (30, 20)),
        ((30, 20), "tf", (30, 20)),
        ((16, 8, 3, 5), "th", (8 * 15, 16 * 15)),  # (out, in, rows, cols)
        ((3, 5, 8, 16), "tf", (8 * 15, 16 * 15)),  # (rows, cols, in, out)
        ((16, 8, 3, 5, 2), "th", (8 * 30, 16 * 30)),
        # Keras 1 multiplies only the first two spatial sizes of a 5D 'tf' kernel.
        ((3, 5, 2, 8, 16), "tf", (8 * 15, 16 * 15)),
        ((7,), "th", (math.sqrt(7), math.sqrt(7))),
        ((4, 6, 6), "tf", (12.0, 12.0)),
    ],
)
def test_get_fans_follows_keras_1_rules(shape, dim_ordering, expected):
    fans = initializers.get_fans(shape, dim_ordering=dim_ordering)
    np.testing.assert_allclose(fans, expected)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: initializers.get_fans((3, 3, 3, 3), "channels_last"), ValueError, "get_fans: "),
        (lambda: initializers.glorot_uniform((3, 3), dim_ordering="xy"), ValueError, "glorot"),
        (lambda: initializers.uniform((3, -1)), ValueError, "uniform: .*negative"),
        (lambda: initializers.he_normal("33"), TypeError, "he_normal: shape must be a tuple"),
        (lambda: initializers.zero((2.5, 2)), TypeError, r"zero: shape must be a tuple of ints"),
        (lambda: initializers.identity((3, 4)), ValueError, r"identity: .*square.*\(3, 4\)"),
        (lambda: initializers.identity((3, 3, 3)), ValueError, r"identity: .*square and 2D"),
        (lambda: initializers.orthogonal(()), ValueError, r"orthogonal: .*at least one"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


ALL = sorted(initializers.BUILTINS)


@pytest.mark.parametrize("name", ALL)
def test_initializer_returns_named_floatx_parameter_on_cpu(name):
    init = getattr(initializers, name)
    shape = (6, 6)
    weight = init(shape, name="dense_1_W", dim_ordering="th")
    assert isinstance(weight, torch.nn.Parameter)
    assert weight.requires_grad
    assert weight.shape == shape
    assert weight.dtype == torch.float32
    assert weight.device.type == "cpu"
    assert weight._keras_name == "dense_1_W"
    assert not hasattr(init(shape), "_keras_name")


@pytest.fixture
def float64_floatx():
    saved = floatx()
    set_floatx("float64")
    yield
    set_floatx(saved)


@pytest.mark.usefixtures("float64_floatx")
@pytest.mark.parametrize("name", ALL)
def test_initializer_dtype_follows_floatx(name):
    assert getattr(initializers, name)((4, 4)).dtype == torch.float64


UNIFORM_CASES = [
    # (initializer, shape, dim_ordering, expected bound)
    (initializers.uniform, (300, 200), "th", 0.05),
    (partial(initializers.uniform, scale=0.3), (300, 200), "th", 0.3),
    (initializers.lecun_uniform, (300, 200), "th", math.sqrt(3 / 300)),
    (initializers.glorot_uniform, (300, 200), "th", math.sqrt(6 / 500)),
    (initializers.glorot_uniform, (32, 16, 3, 3), "th", math.sqrt(6 / (16 * 9 + 32 * 9))),
    (initializers.glorot_uniform, (3, 3, 16, 32), "tf", math.sqrt(6 / (16 * 9 + 32 * 9))),
    (initializers.he_uniform, (3, 3, 16, 32), "tf", math.sqrt(6 / (16 * 9))),
    (initializers.he_uniform, (300, 200), "th", math.sqrt(6 / 300)),
]


@pytest.mark.parametrize(("init", "shape", "dim_ordering", "bound"), UNIFORM_CASES)
def test_uniform_family_respects_bound_and_variance(init, shape, dim_ordering, bound):
    torch.manual_seed(0)
    w = init(shape, dim_ordering=dim_ordering).detach().double()
    assert w.abs().max() <= bound
    assert w.abs().max() > 0.99 * bound  # the whole interval is used
    assert abs(w.mean().item()) < 5 * bound / math.sqrt(3 * w.numel())  # 5 standard errors
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)


NORMAL_CASES = [
    # (initializer, shape, dim_ordering, expected standard deviation)
    (initializers.normal, (300, 200), "th", 0.05),
    (partial(initializers.normal, scale=1.5), (300, 200), "th", 1.5),
    (initializers.glorot_normal, (300, 200), "th", math.sqrt(2 / 500)),
    (initializers.glorot_normal, (32, 16, 3, 3), "th", math.sqrt(2 / (16 * 9 + 32 * 9))),
    (initializers.he_normal, (300, 200), "th", math.sqrt(2 / 300)),
    (initializers.he_normal, (3, 3, 16, 32), "tf", math.sqrt(2 / (16 * 9))),
]


@pytest.mark.parametrize(("init", "shape", "dim_ordering", "std"), NORMAL_CASES)
def test_normal_family_has_the_expected_spread(init, shape, dim_ordering, std):
    torch.manual_seed(0)
    w = init(shape, dim_ordering=dim_ordering).detach().double()
    assert abs(w.mean().item()) < 5 * std / math.sqrt(w.numel())  # 5 standard errors
    assert w.std().item() == pytest.approx(std, rel=0.03)
    # Plain, not truncated: about 4.55% of the values lie beyond 2 sigma (truncated: none).
    assert (w.abs() > 2 * std).double().mean().item() == pytest.approx(0.0455, abs=0.01)


@pytest.mark.parametrize("shape", [(50, 50), (30, 80), (80, 30), (8, 4, 3, 3)])
@pytest.mark.parametrize("scale", [1.1, 0.5])
def test_orthogonal_rows_or_columns_are_scaled_orthonormal(shape, scale):
    kwargs = {} if scale == 1.1 else {"scale": scale}  # 1.1 is the Keras 1 default
    w = initializers.orthogonal(shape, **kwargs).detach().double().reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    expected = scale**2 * torch.eye(gram.shape[0], dtype=torch.float64)
    torch.testing.assert_close(gram, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [1, 2.5])
def test_identity_is_scaled_eye(scale):
    w = initializers.identity((5, 5), scale=scale)
    np.testing.assert_array_equal(w.detach().numpy(), scale * np.eye(5))


@pytest.mark.parametrize(("name", "value"), [("zero", 0.0), ("one", 1.0)])
def test_constant_initializers(name, value):
    w = getattr(initializers, name)((3, 2, 4))
    np.testing.assert_array_equal(w.detach().numpy(), np.full((3, 2, 4), value))


@pytest.mark.parametrize("name", ["uniform", "normal", "glorot_uniform", "orthogonal"])
def test_torch_manual_seed_makes_draws_repeatable(name):
    init = getattr(initializers, name)
    torch.manual_seed(1234)
    first = init((20, 10)).detach().clone()
    second = init((20, 10)).detach()
    torch.manual_seed(1234)
    again = init((20, 10)).detach()
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, second)


def test_initializations_is_the_same_api_under_the_keras_1_name():
    assert initializations.BUILTINS is initializers.BUILTINS
    for name in initializers.__all__:
        assert getattr(initializations, name) is getattr(initializers, name)
