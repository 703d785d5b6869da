"""Keras 2 spellings of the recurrent layers: the same layer as its Keras 1 spelling
(config, weights, output), with Keras 2's hard_sigmoid gates when Keras 2 is spoken."""

import numpy as np
import pytest
import torch

from lamella import layers as L
from lamella.layers import Input
from lamella.models import Model

RNG = np.random.default_rng(4)


def unnamed(config):
    """A config without the automatic names, a wrapped layer's included."""
    if isinstance(config, dict):
        return {k: unnamed(v) for k, v in config.items() if k != "name"}
    return config


def same_layer(keras2, keras1, input_shape):
    two, one = keras2(), keras1()
    assert type(two) is type(one)
    outputs = []
    for layer in (two, one):
        x = Input(shape=input_shape)
        torch.manual_seed(0)  # the weights are drawn when the layer is built
        outputs.append(Model(x, layer(x)))
    assert unnamed(two.get_config()) == unnamed(one.get_config())
    for a, b in zip(two.get_weights(), one.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    data = RNG.normal(size=(2, *input_shape)).astype("float32")
    np.testing.assert_allclose(outputs[0].predict(data), outputs[1].predict(data), rtol=1e-6)


CASES = {
    "LSTM": (
        lambda: L.LSTM(
            units=3,
            kernel_initializer="glorot_normal",
            recurrent_initializer="orthogonal",
            unit_forget_bias=False,
            kernel_regularizer="l2",
            recurrent_regularizer="l1",
            bias_regularizer="l2",
            dropout=0.1,
            recurrent_dropout=0.2,
            return_sequences=True,
            implementation=2,
        ),
        lambda: L.LSTM(
            output_dim=3,
            init="glorot_normal",
            inner_init="orthogonal",
            forget_bias_init="zero",
            inner_activation="hard_sigmoid",
            W_regularizer="l2",
            U_regularizer="l1",
            b_regularizer="l2",
            dropout_W=0.1,
            dropout_U=0.2,
            return_sequences=True,
        ),
        (5, 4),
    ),
    "GRU": (
        lambda: L.GRU(3, recurrent_activation="sigmoid", use_bias=True, go_backwards=True),
        lambda: L.GRU(3, inner_activation="sigmoid", go_backwards=True),
        (5, 4),
    ),
    "SimpleRNN": (
        lambda: L.SimpleRNN(units=3, activation="relu", kernel_regularizer="l1"),
        lambda: L.SimpleRNN(output_dim=3, activation="relu", W_regularizer="l1"),
        (5, 4),
    ),
    "ConvLSTM2D": (
        lambda: L.ConvLSTM2D(
            2, (3, 3), padding="same", data_format="channels_last", return_sequences=True
        ),
        lambda: L.ConvLSTM2D(
            2,
            3,
            3,
            border_mode="same",
            dim_ordering="tf",
            inner_activation="hard_sigmoid",
            return_sequences=True,
        ),
        (3, 5, 5, 1),
    ),
    "TimeDistributed": (
        lambda: L.TimeDistributed(L.Dense(units=2, use_bias=False)),
        lambda: L.TimeDistributed(L.Dense(output_dim=2, bias=False)),
        (5, 4),
    ),
    "Bidirectional": (
        lambda: L.Bidirectional(L.LSTM(units=2, recurrent_activation="sigmoid")),
        lambda: L.Bidirectional(L.LSTM(2)),
        (5, 4),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras2_spelling_builds_the_same_layer(case):
    same_layer(*CASES[case])


def test_keras2_spelling_gets_keras2_gates_and_keras1_spelling_lamellas():
    assert L.LSTM(units=4).inner_activation.__name__ == "hard_sigmoid"  # Keras 2's default
    assert L.GRU(4, recurrent_dropout=0.1).inner_activation.__name__ == "hard_sigmoid"
    assert L.LSTM(4).inner_activation.__name__ == "sigmoid"  # lamella's fused default
    assert L.LSTM(units=4, recurrent_activation="tanh").inner_activation.__name__ == "tanh"
    # Keras 1's recurrent layers have no constraints: Keras 2's are refused by name.
    with pytest.raises(TypeError, match=r"SimpleRNN: 'kernel_constraint' \(Keras 2; Keras 1's"):
        L.SimpleRNN(3, kernel_constraint="max_norm")
