"""jit_compile=True against lamella's own eager fit, on the CNN and the LSTM.

bench_mlp.py times the compiled MLP against the hand-written eager torch loop.
This script asks the other question the issue sets: is ``jit_compile=True`` never slower
than eager on the convolutional and recurrent models?  Each case trains one model
compiled and one eager, built from the same seed, alternating epochs; the ratio is
compiled over eager.  The first compiled epoch (compiling included) is timed on its own
and printed before its row.

- CNN: bench_cnn.py's network ('th' ordering), torch.optim.SGD, batch 128.  Compiled as
  one graph it beats eager on the CPU too (it did not when only the forward pass and loss
  were compiled: the convolutions then said ``Layer.eager_on = {'cpu'}``).
- LSTM: bench_recurrent.py's IMDB network (Embedding -> LSTM(128) -> Dense(1)), RMSprop,
  batch 32, sequences of 80: the default LSTM (torch's fused kernel) and Keras 1's
  ``inner_activation='hard_sigmoid'`` (lamella's whole-sequence kernel).

    python bench/bench_jit.py [--samples 1024] [--rounds 7] [--device cpu]
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace

import numpy as np
import torch
from bench_cnn import lamella_cnn
from harness import Bench, lamella_fit, parser

from lamella.layers import LSTM, Dense, Embedding
from lamella.models import Sequential

WORDS, EMBED, UNITS, LENGTH, LSTM_BATCH, CNN_BATCH = 20000, 128, 128, 80, 32, 128


def lstm(jit_compile: bool, **arguments) -> Sequential:
    torch.manual_seed(0)
    model = Sequential(
        [
            Embedding(WORDS, EMBED, input_length=LENGTH),
            LSTM(UNITS, **arguments),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", jit_compile=jit_compile)
    return model


def cnn(jit_compile: bool) -> Sequential:
    torch.manual_seed(0)
    model = lamella_cnn("th")
    model.compile(
        loss="categorical_crossentropy",
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
        jit_compile=jit_compile,
    )
    return model


def case(bench: Bench, name: str, build, x: np.ndarray, y: np.ndarray, batch: int, device: str):
    eager, compiled = build(False), build(True)
    eager.to(device)
    compiled.to(device)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled.fit(x, y, batch_size=batch, nb_epoch=1, verbose=0)
    said = "; ".join(sorted({str(w.message) for w in caught if "jit_compile" in str(w.message)}))
    print(
        f"{name}: first jit_compile epoch, compiling included: "
        f"{time.perf_counter() - started:.1f} s{f' (warned: {said})' if said else ''}"
    )
    contenders = [
        replace(lamella_fit(compiled, x, y, batch), name="jit_compile"),
        replace(lamella_fit(eager, x, y, batch), name="eager"),
    ]
    bench.compare(name, contenders, goal=1.0, device=device)


def main() -> None:
    args = parser(__doc__, rounds=7, samples=1024, device=True).parse_args()
    rng = np.random.default_rng(0)
    with Bench(f"jit_compile vs eager on {args.device}, {args.samples} samples", args) as bench:
        x = rng.random((args.samples, 1, 28, 28), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
        case(bench, "CNN fit (jit_compile)", cnn, x, y, CNN_BATCH, args.device)
        words = rng.integers(1, WORDS, (args.samples, LENGTH))
        labels = rng.integers(0, 2, (args.samples, 1)).astype(np.float32)
        for label, arguments in (
            ("LSTM fit (jit_compile)", {}),
            ("LSTM fit (hard_sigmoid, jit_compile)", {"inner_activation": "hard_sigmoid"}),
        ):
            build = lambda jit, a=arguments: lstm(jit, **a)  # noqa: E731
            case(bench, label, build, words, labels, LSTM_BATCH, args.device)


if __name__ == "__main__":
    main()
