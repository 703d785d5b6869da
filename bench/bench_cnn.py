"""Fit throughput of a small CNN: lamella's ``model.fit`` against a hand-written PyTorch loop.

The network is Keras's MNIST-style CNN: Convolution2D(32, 3, 3, relu) -> Convolution2D(32,
3, 3, relu) -> MaxPooling2D -> Flatten -> Dense(128, relu) -> Dense(10, softmax), trained
with categorical crossentropy and plain SGD (lr 0.01) on random 28x28 single-channel
images, in both image orderings.  The PyTorch contender uses nn.Conv2d/nn.Linear on tensors
prepared once, shuffles with ``randperm`` and slices the same batches; for 'tf' it takes
the (batch, rows, cols, channels) data as channels-last views, as lamella does, and
flattens in that order.  Keras 3 (torch backend), where importable, trains the same
network in the matching data_format on ``--keras-samples`` samples per round.

    python bench/bench_cnn.py [--samples 1024] [--rounds 15] [--device cpu]
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from harness import Bench, keras_fit, lamella_fit, parser, torch_fit
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


def keras_cnn(keras, ordering: str):
    layers, data_format = keras.layers, "channels_first" if ordering == "th" else "channels_last"
    model = keras.Sequential(
        [
            keras.Input((1, 28, 28) if ordering == "th" else (28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu", data_format=data_format),
            layers.Conv2D(32, 3, activation="relu", data_format=data_format),
            layers.MaxPooling2D(data_format=data_format),
            layers.Flatten(data_format=data_format),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.01))
    return model


def compare(bench: Bench, ordering: str, args) -> None:
    rng = np.random.default_rng(0)
    shape = (args.samples, 1, 28, 28) if ordering == "th" else (args.samples, 28, 28, 1)
    x = rng.random(shape, dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]

    torch.manual_seed(0)
    ours = lamella_cnn(ordering)
    ours.to(args.device)
    theirs = TorchCNN(channels_last=ordering == "tf").to(args.device)
    if ordering == "tf":
        theirs.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.01)
    x_t, y_t = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
    contenders = [
        lamella_fit(ours, x, y, BATCH),
        # Softmax + crossentropy on one-hot targets, as F.cross_entropy computes it from logits.
        torch_fit(theirs, optimizer, F.cross_entropy, x_t, y_t, BATCH),
    ]
    keras = bench.keras()
    if keras is not None:
        contenders.append(keras_fit(keras_cnn(keras, ordering), x, y, BATCH, args.keras_samples))
    bench.compare(f"CNN fit '{ordering}'", contenders, goal=0.97, device=args.device)


def main() -> None:
    args = parser(__doc__, rounds=15, samples=1024, keras_samples=512, device=True).parse_args()
    with Bench(f"CNN on {args.device}, {args.samples} samples, batch {BATCH}", args) as bench:
        for ordering in ("th", "tf"):
            compare(bench, ordering, args)


if __name__ == "__main__":
    main()
