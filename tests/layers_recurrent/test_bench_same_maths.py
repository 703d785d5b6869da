"""The benchmark's "torch same maths" contenders compute what lamella's loop path computes.

bench/keras1_loops.py writes Keras 1's LSTM and GRU as plain torch step loops, and
bench_recurrent.py reports lamella's speed against them; that comparison means something
only if both compute the same function.  Given lamella's weights, the loops must give
lamella's predictions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lamella.layers import GRU, LSTM, Dense, Embedding
from lamella.models import Sequential

sys.path.append(str(Path(__file__).parents[2] / "bench"))
keras1_loops = pytest.importorskip("keras1_loops")

WORDS, EMBED, UNITS, LENGTH = 40, 6, 5, 7


@pytest.mark.parametrize(
    ("layer", "loop", "inner"),
    [
        (LSTM, keras1_loops.KerasOneLSTM, "hard_sigmoid"),
        (LSTM, keras1_loops.KerasOneLSTM, "sigmoid"),
        (GRU, keras1_loops.KerasOneGRU, "hard_sigmoid"),
        (GRU, keras1_loops.KerasOneGRU, "sigmoid"),
    ],
)
def test_step_loop_matches_lamella(layer, loop, inner):
    torch.manual_seed(0)
    recurrent = layer(UNITS, inner_activation=inner)
    model = Sequential(
        [Embedding(WORDS, EMBED, input_length=LENGTH), recurrent, Dense(1, activation="sigmoid")]
    )
    theirs = loop(WORDS, EMBED, UNITS, inner=inner).eval()
    embedding, _, dense = model.layers
    with torch.no_grad():
        theirs.embedding.weight.copy_(torch.from_numpy(embedding.get_weights()[0]))
        theirs.input.weight.copy_(recurrent.weight_ih)
        theirs.input.bias.copy_(recurrent.bias)
        theirs.recurrent.weight.copy_(recurrent.weight_hh)
        kernel, bias = dense.get_weights()
        theirs.dense.weight.copy_(torch.from_numpy(kernel.T))
        theirs.dense.bias.copy_(torch.from_numpy(bias))
    words = np.random.default_rng(0).integers(0, WORDS, (8, LENGTH))
    expected = theirs(torch.from_numpy(words)).detach().numpy()
    np.testing.assert_allclose(model.predict(words), expected, rtol=1e-5, atol=1e-6)
