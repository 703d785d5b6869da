"""jit_compile=True on a convolutional model on the CPU: measured slower compiled
(bench/bench_jit.py), so the model trains eagerly, with one warning saying why."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from lamella.layers import Convolution2D, Dense, Flatten
from lamella.models import Sequential


def test_a_cnn_on_the_cpu_trains_eagerly_and_says_so():
    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = Sequential(
        [Convolution2D(2, 3, 3, input_shape=(1, 6, 6)), Flatten(), Dense(2, activation="softmax")]
    )
    with pytest.warns(UserWarning, match="jit_compile=True is ignored on the cpu.*Convolution2D"):
        model.compile(
            optimizer=torch.optim.SGD,
            loss="categorical_crossentropy",
            jit_compile=True,
            device="cpu",
        )
    x = np.random.default_rng(0).random((8, 1, 6, 6), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 1] * 4]
    model.fit(x, y, nb_epoch=1, verbose=0)
    assert counters["stats"]["unique_graphs"] == 0  # nothing went through torch.compile
