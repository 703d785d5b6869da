"""jit_compile=True on a convolutional model: the whole step as one graph, on the CPU too
(bench/bench_jit.py measured it faster than eager there), with eager's results."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from lamella.layers import Convolution2D, Dense, Flatten, MaxPooling2D
from lamella.models import Sequential

RNG = np.random.default_rng(0)
X = RNG.random((40, 1, 8, 8), dtype=np.float32)
Y = np.eye(2, dtype=np.float32)[RNG.integers(2, size=40)]


def trained(jit_compile):
    torch.manual_seed(0)
    model = Sequential(
        [
            Convolution2D(3, 3, 3, input_shape=(1, 8, 8), activation="relu"),
            MaxPooling2D(),
            Flatten(),
            Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loss="categorical_crossentropy",
        jit_compile=jit_compile,
        device="cpu",
    )
    model.fit(X, Y, batch_size=16, nb_epoch=2, shuffle=False, verbose=0)
    return model


def test_a_cnn_on_the_cpu_compiles_its_whole_step_silently():
    torch._dynamo.reset()
    eager = trained(False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jitted = trained({"backend": "aot_eager"})
    assert not [w for w in caught if "jit_compile" in str(w.message)]
    assert jitted._whole_step.size == 16 and not jitted._whole_step.broken
    for a, b in zip(eager.get_weights(), jitted.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
