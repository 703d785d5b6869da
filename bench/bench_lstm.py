"""Fit throughput of an LSTM classifier: lamella's ``fit`` against a hand-written PyTorch loop.

The network is Keras's IMDB LSTM: Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid),
trained with binary crossentropy and RMSprop (lr 0.001) on random word indices, sequences
of 80, batch 32.  Two lamella LSTMs are timed: the default one (tanh/sigmoid, which runs
torch's fused kernel) and Keras 1's ``inner_activation='hard_sigmoid'`` (which no fused
kernel computes, so it runs the step loop).  Both are compared with the same PyTorch
contender, nn.Embedding + nn.LSTM + nn.Linear + sigmoid + BCE on tensors prepared once,
shuffled with ``randperm`` and sliced into the same batches: the fastest way to train
this network in PyTorch.  The contenders alternate within each round, so drift of a
shared machine hits both alike; the report is the median samples/s of each and the
median of the per-round time ratios (lamella / torch; below 1 means lamella is faster).

    python bench/bench_lstm.py [--samples 1024] [--rounds 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lamella.layers import LSTM, Dense
from lamella.models import Sequential

WORDS, EMBED, UNITS, LENGTH, BATCH, LR = 20000, 128, 128, 80, 32, 0.001


def lamella_lstm(inner_activation: str) -> Sequential:
    try:
        from lamella.layers.embeddings import Embedding
    except ImportError as exc:
        raise SystemExit(
            f"bench_lstm needs lamella-core's Embedding layer (lamella.layers.embeddings): {exc}"
        ) from exc
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


def torch_epoch(
    model: TorchLSTM, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> None:
    order = torch.randperm(len(x), device=x.device)
    for start in range(0, len(x), BATCH):
        rows = order[start : start + BATCH]
        loss = F.binary_cross_entropy(model(x.index_select(0, rows)), y.index_select(0, rows))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def seconds(run: Callable[[], None], device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def compare(samples: int, rounds: int, device: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, WORDS, (samples, LENGTH))
    y = rng.integers(0, 2, (samples, 1)).astype(np.float32)

    torch.manual_seed(0)
    ours = {inner: lamella_lstm(inner) for inner in ("sigmoid", "hard_sigmoid")}
    for model in ours.values():
        model.to(device)
    theirs = TorchLSTM().to(device)
    optimizer = torch.optim.RMSprop(theirs.parameters(), lr=LR)
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    contenders = {
        f"lamella {inner}": (lambda m=model: m.fit(x, y, batch_size=BATCH, nb_epoch=1, verbose=0))
        for inner, model in ours.items()
    }
    contenders["torch"] = lambda: torch_epoch(theirs, optimizer, x_t, y_t)
    for run in contenders.values():  # warm up: allocator, kernel selection
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            times[name].append(seconds(run, device))
    print(f"torch (nn.LSTM)          {samples / statistics.median(times['torch']):8.0f} samples/s")
    for inner, model in ours.items():
        name = f"lamella {inner}"
        ratios = [a / b for a, b in zip(times[name], times["torch"], strict=True)]
        print(
            f"lamella {inner:<12} ({model.layers[1].path:>5}) "
            f"{samples / statistics.median(times[name]):8.0f} samples/s  "
            f"median time ratio lamella/torch {statistics.median(ratios):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
        f"{args.samples} samples, length {LENGTH}, batch {BATCH}, {args.rounds} rounds"
    )
    compare(args.samples, args.rounds, args.device)


if __name__ == "__main__":
    main()
