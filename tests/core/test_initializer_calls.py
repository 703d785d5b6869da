"""Every layer calls its initializers as Keras 1 does: ``init(shape, name=...)``.

Custom initializers written ``lambda shape, name: ...`` (Keras 1.2.2's mnist_irnn)
work as any layer's ``init=``, and may return a Parameter, a tensor or a numpy array.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.initializations import identity, normal
from lamella.layers import BatchNormalization, Dense, Embedding, Input
from lamella.models import Sequential


def recording(make):
    """An initializer ``(shape, name)`` that remembers each call and what it returned."""
    calls = []

    def init(shape, name):
        value = make(shape)
        calls.append((tuple(shape), name, value))
        return value

    return init, calls


def as_numpy(value):
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


@pytest.mark.parametrize(
    "make",
    [
        lambda shape: np.arange(np.prod(shape), dtype="float64").reshape(shape) / 10,
        lambda shape: torch.linspace(-1, 1, int(np.prod(shape)), dtype=torch.float64).reshape(
            shape
        ),
        lambda shape: normal(shape, scale=0.5),
        lambda shape: (np.ones(shape) * 0.25).tolist(),
    ],
    ids=["numpy", "tensor", "parameter", "nested-lists"],
)
def test_dense_takes_a_custom_initializer_of_shape_and_name(make):
    init, calls = recording(make)
    model = Sequential([Dense(4, input_dim=3, init=init)])
    assert [(shape, name) for shape, name, _ in calls] == [((3, 4), "dense_1_W")]
    kernel = model.layers[0].W
    assert isinstance(kernel, torch.nn.Parameter) and kernel.dtype == torch.float32
    assert kernel.requires_grad
    np.testing.assert_allclose(kernel.detach().numpy(), as_numpy(calls[0][2]), rtol=1e-6)
    x = np.ones((2, 3), "float32")
    expected = x @ as_numpy(calls[0][2]).astype("float32")  # the bias starts at zero
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5)


def test_initializers_of_non_trainable_weights_and_other_layers():
    gamma_init, gamma_calls = recording(lambda shape: np.full(shape, 2.0))
    embedding_init, embedding_calls = recording(lambda shape: np.eye(*shape))
    layer = BatchNormalization(gamma_init=gamma_init, input_shape=(3,))
    Sequential([layer])
    np.testing.assert_array_equal(layer.get_weights()[0], [2.0, 2.0, 2.0])
    assert gamma_calls[0][1] == f"{layer.name}_gamma"
    embedding = Embedding(4, 4, init=embedding_init, input_length=2)
    Sequential([embedding])
    np.testing.assert_array_equal(embedding.get_weights()[0], np.eye(4))
    assert embedding_calls[0][:2] == ((4, 4), f"{embedding.name}_W")


def test_a_custom_initializer_of_the_wrong_shape_is_reported():
    with pytest.raises(ValueError, match=r"Dense dense_1: the initializer of dense_1_W returned"):
        Sequential([Dense(4, input_dim=3, init=lambda shape, name: np.zeros((4, 3)))])


def test_an_initializer_without_name_is_refused_clearly():
    with pytest.raises(TypeError, match=r"initializer of dense_1_W must accept \(shape, name"):
        Sequential([Dense(4, input_dim=3, init=lambda shape: np.zeros(shape))])


@pytest.mark.requires("lamella-layers-recurrent")
def test_irnn_initializers_of_keras_1_examples():
    """mnist_irnn: small normal W, identity U, both written ``lambda shape, name``."""
    from lamella.layers import SimpleRNN

    torch.manual_seed(0)
    seen = []

    def init(shape, name):
        seen.append(name)
        return normal(shape, scale=0.001, name=name)

    def inner_init(shape, name):
        seen.append(name)
        return identity(shape, scale=1.0, name=name)

    layer = SimpleRNN(8, init=init, inner_init=inner_init, activation="relu")
    layer(Input(shape=(5, 3)))
    W, U, b = layer.get_weights()
    assert sorted(seen) == sorted([f"{layer.name}_W", f"{layer.name}_U"])
    np.testing.assert_array_equal(U, np.eye(8))
    assert 0 < np.abs(W).max() < 0.01
    np.testing.assert_array_equal(b, np.zeros(8))


@pytest.mark.requires("lamella-layers-recurrent")
@pytest.mark.parametrize("consume_less", ["cpu", "gpu"])
def test_lstm_calls_every_initializer_with_a_name(consume_less):
    from lamella.layers import LSTM

    names = []

    def constant(value):
        def init(shape, name):
            names.append(name)
            return np.full(shape, value)

        return init

    layer = LSTM(
        2,
        init=constant(0.5),
        inner_init=constant(-0.5),
        forget_bias_init=constant(3.0),
        consume_less=consume_less,
    )
    layer(Input(shape=(4, 3)))
    weights = layer.get_weights()
    for array in weights:
        assert set(np.unique(array)) <= {0.5, -0.5, 3.0, 0.0}
    assert all(name.startswith(f"{layer.name}_") for name in names)
    assert f"{layer.name}_W_i" in names or f"{layer.name}_W" in names
    bias = np.concatenate([w for w in weights if w.ndim == 1])
    assert np.sum(bias == 3.0) == 2  # the forget gate's two units


@pytest.mark.requires("lamella-layers-conv")
@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
def test_convolution_takes_an_initializer_without_dim_ordering(dim_ordering):
    from lamella.layers import Convolution2D

    init, calls = recording(lambda shape: np.full(shape, 0.1))
    shape = (1, 5, 5) if dim_ordering == "th" else (5, 5, 1)
    model = Sequential(
        [Convolution2D(2, 3, 3, init=init, dim_ordering=dim_ordering, input_shape=shape)]
    )
    kernel_shape = (2, 1, 3, 3) if dim_ordering == "th" else (3, 3, 1, 2)
    assert [(s, n) for s, n, _ in calls] == [(kernel_shape, "convolution2d_1_W")]
    out = model.predict(np.ones((1, *shape), "float32"))
    np.testing.assert_allclose(out, np.full(out.shape, 0.9), rtol=1e-6)
