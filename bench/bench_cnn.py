"""Fit throughput of a small CNN: lamella's ``model.fit`` against a hand-written PyTorch loop.

The network is Keras's MNIST-style CNN: Convolution2D(32, 3, 3, relu) -> Convolution2D(32,
3, 3, relu) -> MaxPooling2D -> Flatten -> Dense(128, relu) -> Dense(10, softmax), trained
with categorical crossentropy and plain SGD (lr 0.01) on random 28x28 single-channel
images, in both image orderings.  The PyTorch contender uses nn.Conv2d/nn.Linear on tensors
prepared once, shuffles with ``randperm`` and slices the same batches; for 'tf' it takes
the (batch, rows, cols, channels) data as channels-last views, as lamella does, and
flattens in that order.  The contenders alternate within each round, so drift of a shared
machine hits both alike; the report is the median samples/s of each and the median of
the per-round time ratios (lamella / torch; below 1 means lamella is faster).

    python bench/bench_cnn.py [--samples 2048] [--rounds 10] [--device cpu]
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

from lamella.layers import Convolution2D, Dense, Flatten, MaxPooling2D
from lamella.models import Sequential

BATCH = 128


def lamella_cnn(ordering: str) -> Sequential:
    shape = (1, 28, 28) if ordering == "th" else (28, 28, 1)
    model = Sequential()
    model.add(Convolution2D(32, 3, 3, activation="relu", dim_ordering=ordering, input_shape=shape))
    model.add(Convolution2D(32, 3, 3, activation="relu", dim_ordering=ordering))
    model.add(MaxPooling2D(dim_ordering=ordering))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(
        loss="categorical_crossentropy", optimizer=torch.optim.SGD(model.parameters(), lr=0.01)
    )
    return model


class TorchCNN(nn.Module):
    """The same network written for PyTorch; 'tf' data stays channels last throughout."""

    def __init__(self, channels_last: bool):
        super().__init__()
        self.channels_last = channels_last
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 32, 3)
        self.dense1 = nn.Linear(32 * 12 * 12, 128)
        self.dense2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)
        return self.dense2(F.relu(self.dense1(x.flatten(1))))


def torch_epoch(
    model: TorchCNN, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> None:
    order = torch.randperm(len(x), device=x.device)
    for start in range(0, len(x), BATCH):
        rows = order[start : start + BATCH]
        loss = F.cross_entropy(model(x.index_select(0, rows)), y.index_select(0, rows))
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


def compare(ordering: str, samples: int, rounds: int, device: str) -> None:
    rng = np.random.default_rng(0)
    shape = (samples, 1, 28, 28) if ordering == "th" else (samples, 28, 28, 1)
    x = rng.random(shape, dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, samples)]

    torch.manual_seed(0)
    ours = lamella_cnn(ordering)
    ours.to(device)
    theirs = TorchCNN(channels_last=ordering == "tf").to(device)
    if ordering == "tf":
        theirs.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.01)
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    contenders = {
        "lamella": lambda: ours.fit(x, y, batch_size=BATCH, nb_epoch=1, verbose=0),
        "torch": lambda: torch_epoch(theirs, optimizer, x_t, y_t),
    }
    for run in contenders.values():  # warm up: allocator, kernel selection
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            times[name].append(seconds(run, device))
    ratios = [a / b for a, b in zip(times["lamella"], times["torch"], strict=True)]
    print(
        f"'{ordering}'  lamella {samples / statistics.median(times['lamella']):8.0f} samples/s  "
        f"torch {samples / statistics.median(times['torch']):8.0f} samples/s  "
        f"median time ratio lamella/torch {statistics.median(ratios):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
        f"{args.samples} samples, batch {BATCH}, {args.rounds} rounds"
    )
    for ordering in ("th", "tf"):
        compare(ordering, args.samples, args.rounds, args.device)


if __name__ == "__main__":
    main()
