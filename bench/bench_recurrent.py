"""Fit throughput of an LSTM classifier: lamella's ``fit`` against a hand-written PyTorch loop.

The network is Keras's IMDB LSTM: Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid),
trained with binary crossentropy and RMSprop (lr 0.001) on random word indices, sequences
of 80, batch 32.  Two lamella LSTMs are timed: the default one (tanh/sigmoid, which runs
torch's fused kernel) and Keras 1's ``inner_activation='hard_sigmoid'`` (which no fused
kernel computes, so it runs the step loop).  Both are compared with the same PyTorch
contender, nn.Embedding + nn.LSTM + nn.Linear + sigmoid + BCE on tensors prepared once,
shuffled with ``randperm`` and sliced into the same batches: the fastest way to train
this network in PyTorch.  Keras 3 (torch backend), where importable, trains the default
network on ``--keras-samples`` samples per round: on CPU it runs a step loop and is slow.

    python bench/bench_lstm.py [--samples 1024] [--rounds 11] [--device cpu]
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from harness import (
    Bench,
    keras_fit,
    lamella_fit,
    parser,
    summarize,
    torch_fit,
)
from torch import nn

from lamella.layers import LSTM, Dense, Embedding
from lamella.models import Sequential

WORDS, EMBED, UNITS, LENGTH, BATCH, LR = 20000, 128, 128, 80, 32, 0.001


def lamella_lstm(inner_activation: str) -> Sequential:
    model = Sequential()
    model.add(Embedding(WORDS, EMBED, input_length=LENGTH))
    model.add(LSTM(UNITS, inner_activation=inner_activation))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(
        loss="binary_crossentropy", optimizer=torch.optim.RMSprop(model.parameters(), lr=LR)
    )
    return model


class TorchLSTM(nn.Module):
    """The same network written for PyTorch, with its fused LSTM."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(WORDS, EMBED)
        self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
        self.dense = nn.Linear(UNITS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embedding(x))
        return torch.sigmoid(self.dense(h[0]))


def keras_lstm(keras):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            layers.Embedding(WORDS, EMBED),
            layers.LSTM(UNITS),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    # torch.optim.RMSprop's defaults, so the contenders do the same update.
    optimizer = keras.optimizers.RMSprop(learning_rate=LR, rho=0.99, epsilon=1e-8)
    model.compile(loss="binary_crossentropy", optimizer=optimizer)
    return model


def compare(bench: Bench, args) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, WORDS, (args.samples, LENGTH))
    y = rng.integers(0, 2, (args.samples, 1)).astype(np.float32)

    torch.manual_seed(0)
    default, hard = (lamella_lstm(inner).to(args.device) for inner in ("sigmoid", "hard_sigmoid"))
    theirs = TorchLSTM().to(args.device)
    optimizer = torch.optim.RMSprop(theirs.parameters(), lr=LR)
    x_t, y_t = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
    ours = lamella_fit(default, x, y, BATCH)
    ours_hard = lamella_fit(hard, x, y, BATCH)
    ours_hard.name = "lamella hard_sigmoid"
    torch_loop = torch_fit(theirs, optimizer, F.binary_cross_entropy, x_t, y_t, BATCH)
    contenders = [ours, ours_hard, torch_loop]
    keras = bench.keras()
    if keras is not None:
        contenders.append(keras_fit(keras_lstm(keras), x, y, BATCH, args.keras_samples))
    times = bench.alternate(contenders, args.device)  # one run serves both records
    others = [c for c in contenders if c.name == "keras"]
    note = f"lamella's LSTM runs its {default.layers[1].path!r} path"
    bench.add(
        summarize("LSTM fit (default)", [ours, torch_loop, *others], times, goal=0.95, note=note)
    )
    note = f"lamella's LSTM runs its {hard.layers[1].path!r} path; the torch loop is fused"
    bench.add(summarize("LSTM fit (hard_sigmoid)", [ours_hard, torch_loop], times, note=note))


def main() -> None:
    args = parser(__doc__, rounds=11, samples=1024, keras_samples=256, device=True).parse_args()
    title = f"LSTM on {args.device}, {args.samples} samples, length {LENGTH}, batch {BATCH}"
    with Bench(title, args) as bench:
        compare(bench, args)


if __name__ == "__main__":
    main()
