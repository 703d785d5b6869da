"""Fit throughput of a small text classifier: lamella against a hand-written PyTorch loop.

Embedding(20000, 64, input_length=100) -> GlobalAveragePooling1D (or Flatten) ->
Dense(1, sigmoid), binary crossentropy, Adam (lr 0.001) through torch.optim, batch 32,
on random word indices: the fastText-style IMDB model, whose step is mostly the
embedding's gradient and the optimizer's update of its 1.28M weights.  The PyTorch
contender is nn.Embedding + mean or flatten + nn.Linear + sigmoid + BCE over tensors
prepared once; Keras 3 (torch backend), where importable, trains the same network on
``--keras-samples`` samples per round.

    python bench/bench_text.py [--samples 2048] [--rounds 15]
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from harness import Bench, keras_fit, lamella_fit, parser, torch_fit
from torch import nn

from lamella.layers import Dense, Embedding, Flatten, GlobalAveragePooling1D
from lamella.models import Sequential

WORDS, EMBED, LENGTH, BATCH, LR = 20000, 64, 100, 32, 0.001


def lamella_text(pooling: str) -> Sequential:
    model = Sequential()
    model.add(Embedding(WORDS, EMBED, input_length=LENGTH))
    model.add(GlobalAveragePooling1D() if pooling == "average" else Flatten())
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=torch.optim.Adam(model.parameters(), lr=LR))
    return model


class TorchText(nn.Module):
    """The same network written for PyTorch."""

    def __init__(self, pooling: str):
        super().__init__()
        self.average = pooling == "average"
        self.embedding = nn.Embedding(WORDS, EMBED)
        self.dense = nn.Linear(EMBED if self.average else EMBED * LENGTH, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vectors = self.embedding(x)
        pooled = vectors.mean(1) if self.average else vectors.flatten(1)
        return torch.sigmoid(self.dense(pooled))


def keras_text(keras, pooling: str):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            layers.Embedding(WORDS, EMBED),
            layers.GlobalAveragePooling1D() if pooling == "average" else layers.Flatten(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    # torch.optim.Adam's epsilon (Keras 3's default is 1e-7).
    optimizer = keras.optimizers.Adam(learning_rate=LR, epsilon=1e-8)
    model.compile(loss="binary_crossentropy", optimizer=optimizer)
    return model


def compare(bench: Bench, pooling: str, args) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, WORDS, (args.samples, LENGTH))
    y = rng.integers(0, 2, (args.samples, 1)).astype(np.float32)
    torch.manual_seed(0)
    theirs = TorchText(pooling)
    optimizer = torch.optim.Adam(theirs.parameters(), lr=LR)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    contenders = [
        lamella_fit(lamella_text(pooling), x, y, BATCH),
        torch_fit(theirs, optimizer, F.binary_cross_entropy, x_t, y_t, BATCH),
    ]
    keras = bench.keras()
    if keras is not None:
        contenders.append(keras_fit(keras_text(keras, pooling), x, y, BATCH, args.keras_samples))
    layer = "GlobalAveragePooling1D" if pooling == "average" else "Flatten"
    bench.compare(f"text fit ({layer})", contenders)


def main() -> None:
    args = parser(__doc__, rounds=15, samples=2048, keras_samples=512).parse_args()
    title = f"text model, {args.samples} samples, length {LENGTH}, batch {BATCH}"
    with Bench(title, args) as bench:
        compare(bench, "average", args)
        compare(bench, "flatten", args)


if __name__ == "__main__":
    main()
