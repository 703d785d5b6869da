"""The seed programs, models with Embedding masks, and the plugin's registrations."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

import lamella.plugins as P
import lamella.recurrent
from lamella.layers.core import Activation, Dense, Dropout
from lamella.models import Sequential
from lamella.plugins.first_party import RECURRENT_LAYERS
from lamella.recurrent import convolutional_recurrent, recurrent, wrappers
from lamella.recurrent.recurrent import LSTM

#: Registered by this package: what core's table says it provides.
REGISTERED = RECURRENT_LAYERS
#: Each implementation module and core's module path for it.
FACADES = {
    recurrent: "lamella.layers.recurrent",
    convolutional_recurrent: "lamella.layers.convolutional_recurrent",
    wrappers: "lamella.layers.wrappers",
}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_shape": (10, 64)},
        {"batch_input_shape": (None, 10, 64)},
        {"input_length": 10, "input_dim": 64},
    ],
)
def test_seed_ways_to_give_the_input_shape(kwargs):
    model = Sequential()
    model.add(LSTM(32, **kwargs))
    assert model.output_shape == (None, 32)
    assert model.layers[0].input_shape == (None, 10, 64)
    assert model.count_params() == 4 * (64 * 32 + 32 * 32 + 32)


def test_seed_sequence_classifier_fits_one_epoch():
    """The seed's IMDB-style model: Embedding, Keras 1 LSTM, Dropout, Dense, sigmoid."""
    embeddings = pytest.importorskip("lamella.layers.embeddings")
    torch.manual_seed(0)
    model = Sequential()
    model.add(embeddings.Embedding(50, 8, input_length=6))
    model.add(LSTM(output_dim=5, activation="sigmoid", inner_activation="hard_sigmoid"))
    model.add(Dropout(0.5))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    assert model.layers[1].path == "loop"
    model.compile(
        loss="binary_crossentropy",
        optimizer=torch.optim.RMSprop(model.parameters(), lr=0.01),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 50, (32, 6)), rng.integers(0, 2, (32, 1))
    before = model.get_weights()
    history = model.fit(x, y, batch_size=16, nb_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before[1], model.get_weights()[1])
    assert model.predict(x).shape == (32, 1)


@pytest.mark.parametrize("inner_activation", ["sigmoid", "hard_sigmoid"])
def test_embedding_mask_zero_reaches_the_lstm(inner_activation):
    """Padding zeros (before and after) are skipped: same as the LSTM given the mask."""
    embeddings = pytest.importorskip("lamella.layers.embeddings")
    model = Sequential(
        [
            embeddings.Embedding(10, 4, input_length=5, mask_zero=True),
            LSTM(3, inner_activation=inner_activation),
        ]
    )
    x = np.array([[0, 0, 3, 4, 5], [1, 2, 0, 0, 0], [1, 2, 3, 4, 5], [0, 6, 7, 0, 8]])
    table, lstm = model.get_weights()[0], model.layers[1]
    with torch.no_grad():
        expected = lstm(torch.as_tensor(table[x]), torch.as_tensor(x != 0)).numpy()
        unmasked = lstm(torch.as_tensor(table[x])).numpy()
    got = model.predict(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, unmasked)


def test_registers_exactly_the_recurrent_layers():
    layers = P.registry("layers")
    ours = {
        key
        for entry in layers.entries.values()
        if entry.provider.distribution == "lamella-layers-recurrent"
        for key in (entry.name, *entry.aliases)
    }
    assert ours == REGISTERED


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_each_name_reaches_its_class_through_core(name):
    module = next(m for m in FACADES if hasattr(m, name))
    cls = getattr(module, name)
    assert P.registry("layers").get(name) is cls
    assert getattr(importlib.import_module("lamella.layers"), name) is cls
    assert getattr(importlib.import_module(FACADES[module]), name) is cls


def test_no_namespace_init():
    """lamella is a PEP 420 namespace: an __init__.py here would hide every other plugin."""
    source = Path(lamella.recurrent.__file__).resolve().parents[1]
    assert source.name == "lamella"
    assert not (source / "__init__.py").exists()


def test_model_reset_states_resets_every_stateful_layer():
    """Keras 1's model.reset_states(): the stateful_lstm example calls it between epochs."""
    from lamella.layers import LSTM, Dense
    from lamella.models import Sequential

    model = Sequential(
        [
            LSTM(4, batch_input_shape=(2, 3, 1), stateful=True, return_sequences=True),
            LSTM(4, stateful=True),
            Dense(1),
        ]
    )
    assert model.stateful
    x = np.random.default_rng(0).standard_normal((2, 3, 1)).astype("float32")
    first = model.predict(x, batch_size=2)
    assert not np.allclose(model.predict(x, batch_size=2), first)  # the states carried on
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=2), first, rtol=1e-6)
