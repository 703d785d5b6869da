"""MLP fit and predict: lamella against a hand-written PyTorch loop doing the same maths.

The classic MNIST-shaped MLP (784-64-64-10, relu, dropout 0.2, softmax,
categorical crossentropy, RMSprop through torch.optim, batch 128) on random data,
and Keras 3 (torch backend) with the same network where it is importable.  Keras is
much slower per sample, so it gets fewer samples per round (``--keras-samples``);
throughputs and ratios are per sample, so that is fair.

    python bench/bench_mlp.py [--rounds 25] [--samples 8192] [--json out.json]
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from harness import Bench, Contender, keras_fit, lamella_fit, parser, torch_fit
from torch import nn

from lamella.layers import Activation, Dense, Dropout
from lamella.models import Sequential

EPS = 1e-7
BATCH = 128


def lamella_model() -> Sequential:
    model = Sequential(
        [
            Dense(64, input_dim=784),
            Activation("relu"),
            Dropout(0.2),
            Dense(64),
            Activation("relu"),
            Dropout(0.2),
            Dense(10),
            Activation("softmax"),
        ]
    )
    model.compile(
        optimizer=torch.optim.RMSprop(model.parameters(), lr=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        device="cpu",
    )
    return model


def torch_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 64),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(64, 10),
        nn.Softmax(dim=-1),
    )


def keras_model(keras):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )
    # torch.optim.RMSprop's defaults, so the three do the same update.
    optimizer = keras.optimizers.RMSprop(learning_rate=1e-3, rho=0.99, epsilon=1e-8)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


class Crossentropy:
    """Keras's crossentropy on softmax outputs; sums loss and accuracy as fit's logs do."""

    def __init__(self):
        self.total = torch.zeros(2)

    def __call__(self, probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = (probs / probs.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
        loss = -(target * probs.log()).sum(-1).mean()
        with torch.no_grad():
            accuracy = (probs.argmax(-1) == target.argmax(-1)).float().mean()
            self.total += torch.stack([loss.detach(), accuracy]) * len(target)
        return loss


def torch_predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def main() -> None:
    args = parser(__doc__, rounds=25, samples=8192, keras_samples=2048).parse_args()
    bench = Bench("MLP 784-64-64-10", args)
    rng = np.random.default_rng(0)
    x_np = rng.random((args.samples, 784), dtype=np.float32)
    y_np = np.eye(10, dtype=np.float32)[rng.integers(10, size=args.samples)]
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    ours, theirs = lamella_model(), torch_model()
    optimizer = torch.optim.RMSprop(theirs.parameters(), lr=1e-3)
    keras = bench.keras()

    fit = [
        lamella_fit(ours, x_np, y_np, BATCH),
        torch_fit(theirs, optimizer, Crossentropy(), x, y, BATCH),
    ]
    predict = [
        Contender("lamella", functools.partial(ours.predict, x_np, batch_size=BATCH), len(x)),
        Contender("torch", functools.partial(torch_predict, theirs, x), len(x)),
    ]
    if keras is not None:
        model, few = keras_model(keras), x_np[: args.keras_samples]
        fit.append(keras_fit(model, x_np, y_np, BATCH, args.keras_samples))
        run = functools.partial(model.predict, few, batch_size=BATCH, verbose=0)
        predict.append(Contender("keras", run, len(few)))
    bench.compare("MLP fit", fit, goal=0.95)
    bench.compare("MLP predict", predict, goal=0.95)
    bench.finish()


if __name__ == "__main__":
    main()
