"""jit_compile with recurrent layers: their kernels cannot be differentiated by torch.func
inside a graph (``func_differentiable = False``), so the model compiles its forward pass
and loss, silently, and trains as it does eagerly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from lamella.layers import GRU, LSTM, Bidirectional, Dense, Embedding
from lamella.models import Sequential

RNG = np.random.default_rng(2)
X = RNG.integers(1, 50, size=(48, 7))
Y = RNG.integers(0, 2, size=(48, 1)).astype("float32")


def trained(recurrent, jit_compile):
    torch.manual_seed(0)
    model = Sequential(
        [Embedding(50, 6, input_length=7), recurrent(), Dense(1, activation="sigmoid")]
    )
    model.compile(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
        loss="binary_crossentropy",
        jit_compile=jit_compile,
    )
    model.fit(X, Y, batch_size=16, nb_epoch=2, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize(
    "recurrent",
    [
        lambda: LSTM(5, inner_activation="hard_sigmoid"),
        lambda: GRU(5),
        lambda: Bidirectional(LSTM(5, inner_activation="sigmoid")),
    ],
    ids=["lstm-kernel", "gru-kernel", "bidirectional-fused"],
)
def test_recurrent_models_compile_per_part_without_a_warning(recurrent):
    torch._dynamo.reset()
    eager = trained(recurrent, False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jitted = trained(recurrent, {"backend": "aot_eager"})
    assert not [w for w in caught if "jit_compile" in str(w.message)]
    assert jitted._whole_step is None
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
