"""Embedding against numpy: row lookup, the zero mask, row dropout, integer inputs in fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.layers import Input
from lamella.layers.core import Dense, Flatten
from lamella.layers.embeddings import Embedding
from lamella.models import Model, Sequential
from lamella.testing import check_layer


def indices(*shape: int, high: int = 10, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size=shape)


@pytest.mark.parametrize("input_dtype", ["int64", "int32"])
@pytest.mark.parametrize("input_shape", [(3, 5), (2, 3, 4)])
def test_embedding_looks_up_a_row_of_W_per_index(input_shape, input_dtype):
    W = np.random.default_rng(0).standard_normal((10, 4)).astype("float32")
    check_layer(
        Embedding,
        {"input_dim": 10, "output_dim": 4, "weights": [W]},
        input_shape=input_shape,
        input_dtype=input_dtype,
        reference=lambda x, w: w[0][x],
        weights_count=1,
    )


def test_embedding_weight_is_W_uniform_in_plus_minus_0_05():
    layer = Embedding(1000, 8)
    Sequential([layer])
    assert [(w._keras_name, tuple(w.shape)) for w in layer.weights] == [
        ("embedding_1_W", (1000, 8))
    ]
    W = layer.get_weights()[0]
    assert np.abs(W).max() <= 0.05
    assert np.abs(W).max() > 0.04


@pytest.mark.parametrize(("input_length", "shape"), [(4, (None, 4, 3)), (None, (None, None, 3))])
def test_embedding_starts_a_sequential_with_integer_input(input_length, shape):
    model = Sequential([Embedding(10, 3, input_length=input_length)])
    assert model.output_shape == shape
    assert model.inputs[0].dtype == "int64"
    x = indices(2, 4)
    np.testing.assert_allclose(model.predict(x), model.get_weights()[0][x])


def test_fit_feeds_indices_and_trains_only_the_rows_it_sees():
    model = Sequential([Embedding(10, 3, input_length=4), Flatten(), Dense(1)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss="mse")
    before = model.get_weights()[0]
    x = indices(8, 4, high=6)  # rows 6 to 9 never appear
    model.fit(x, np.ones((8, 1), "float32"), batch_size=4, nb_epoch=1, verbose=0)
    after = model.get_weights()[0]
    np.testing.assert_array_equal(after[6:], before[6:])
    assert (np.abs(after[:6] - before[:6]).sum(axis=1) > 0).all()


def test_mask_zero_masks_the_zero_indices():
    x = indices(3, 6)
    x[0, 4:] = 0
    masked = Embedding(10, 2, mask_zero=True)
    np.testing.assert_array_equal(masked.compute_mask(torch.from_numpy(x)).numpy(), x != 0)
    assert Embedding(10, 2).compute_mask(torch.from_numpy(x)) is None
    inputs = Input(shape=(6,), dtype="int64")
    model = Model(inputs, Dense(2)(masked(inputs)))
    _, masks = model.run_masked([torch.from_numpy(x)])
    np.testing.assert_array_equal(masks[0].numpy(), x != 0)


def test_a_mask_reaching_a_layer_without_mask_support_fails_at_add():
    model = Sequential([Embedding(10, 3, input_length=4, mask_zero=True)])
    with pytest.raises(TypeError, match=r"flatten_1 \(Flatten\) does not support masking"):
        model.add(Flatten())
    unmasked = Sequential([Embedding(10, 3, input_length=4), Flatten()])
    assert unmasked.output_shape == (None, 12)


def test_dropout_drops_whole_words_while_training_only():
    layer = Embedding(50, 8, dropout=0.5)
    x = torch.arange(50).repeat(4, 1)  # every word in every sample
    layer(x)
    W = layer.get_weights()[0]
    layer.train()
    torch.manual_seed(0)
    y = layer(x).detach().numpy()
    dropped = (y[0] == 0).all(axis=-1)
    expected = np.where(dropped[:, None], 0.0, 2.0 * W)
    np.testing.assert_allclose(y, np.broadcast_to(expected, y.shape), rtol=1e-6)
    assert 10 < dropped.sum() < 40
    assert layer.uses_learning_phase
    layer.eval()
    np.testing.assert_allclose(layer(x).detach().numpy(), W[x.numpy()])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_dim": 0, "output_dim": 3}, "input_dim must be a positive integer"),
        ({"input_dim": 10, "output_dim": 2.5}, "output_dim must be a positive integer"),
        ({"input_dim": 10, "output_dim": 3, "dropout": 1.0}, r"dropout must be a fraction"),
        ({"input_dim": 10, "output_dim": 3, "input_length": 0}, "input_length must be"),
    ],
)
def test_embedding_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=rf"Embedding embedding_1: {message}"):
        Embedding(**kwargs)


def test_input_length_must_match_the_input():
    with pytest.raises(ValueError, match=r"Embedding embedding_1: input_length is 5"):
        Embedding(10, 3, input_length=5)(Input(shape=(4,), dtype="int64"))
