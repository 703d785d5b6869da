"""MLP fit and predict: lamella against a hand-written PyTorch loop doing the same maths.

The classic MNIST-shaped MLP (784-64-64-10, relu, dropout 0.2, softmax,
categorical crossentropy, RMSprop through torch.optim, batch 128) on random data,
and Keras 3 (torch backend) with the same network where it is importable.  Keras is
much slower per sample, so it gets fewer samples per round (``--keras-samples``);
throughputs and ratios are per sample, so that is fair.

Unless ``--no-jit``, lamella models compiled with ``jit_compile=True`` (the whole training
step as one graph through ``torch.compile``) are timed against the same eager loop, after
one epoch of warm-up whose time (compiling included) is printed on its own: one with the
same torch.optim.RMSprop (its update breaks the graph on purpose, so it takes its own
compiled step), and one with lamella's Keras RMSprop set to torch's numbers (``rho=0.99``),
whose update is traced into the step's graph: the same maths either way.  Goals: 1.2x the
eager loop on the CPU, faster than it on a GPU.  The compiled predict is also timed against
the torch loop's predict with its model through ``torch.compile``: what compiling buys a
hand-written loop.  ``--device`` defaults to CUDA when torch
sees a GPU; Keras 3 always runs on the CPU.

    python bench/bench_mlp.py [--rounds 25] [--samples 8192] [--device cuda] [--no-jit]
"""

from __future__ import annotations

import functools
import time

import numpy as np
import torch
from harness import Bench, Contender, keras_fit, lamella_fit, parser, summarize, torch_fit
from torch import nn

from lamella.layers import Activation, Dense, Dropout
from lamella.models import Sequential
from lamella.optim import RMSprop

EPS = 1e-7
BATCH = 128


def lamella_model(device: str, jit_compile: bool = False, keras_rule: bool = False) -> Sequential:
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
    # torch.optim.RMSprop's defaults, as the torch loop's; or the Keras rule doing the same
    optimizer = (
        RMSprop(lr=1e-3, rho=0.99, epsilon=1e-8)
        if keras_rule
        else torch.optim.RMSprop(model.parameters(), lr=1e-3)
    )
    model.compile(
        optimizer=optimizer,
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        device=device,
        jit_compile=jit_compile,
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

    def __init__(self, device: str):
        self.total = torch.zeros(2, device=device)

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
        return torch.cat([model(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).cpu().numpy()


def main() -> None:
    options = parser(__doc__, rounds=25, samples=8192, keras_samples=2048, device=True)
    options.add_argument("--no-jit", action="store_true", help="leave out jit_compile=True")
    args = options.parse_args()
    device = args.device
    bench = Bench(f"MLP 784-64-64-10 on {device}", args)
    rng = np.random.default_rng(0)
    x_np = rng.random((args.samples, 784), dtype=np.float32)
    y_np = np.eye(10, dtype=np.float32)[rng.integers(10, size=args.samples)]
    x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
    ours, theirs = lamella_model(device), torch_model().to(device)
    optimizer = torch.optim.RMSprop(theirs.parameters(), lr=1e-3)
    keras = bench.keras()

    eager_loop = torch_fit(theirs, optimizer, Crossentropy(device), x, y, BATCH)
    fit = [lamella_fit(ours, x_np, y_np, BATCH), eager_loop]
    predict = [
        Contender("lamella", functools.partial(ours.predict, x_np, batch_size=BATCH), len(x)),
        Contender("torch", functools.partial(torch_predict, theirs, x), len(x)),
    ]
    if keras is not None:
        model, few = keras_model(keras), x_np[: args.keras_samples]
        fit.append(keras_fit(model, x_np, y_np, BATCH, args.keras_samples))
        run = functools.partial(model.predict, few, batch_size=BATCH, verbose=0)
        predict.append(Contender("keras", run, len(few)))
    bench.compare("MLP fit", fit, goal=0.95, device=device)
    bench.compare("MLP predict", predict, goal=0.95, device=device)
    if not args.no_jit:
        goal = 1.0 if device.startswith("cuda") else 1.2
        for label, keras_rule in (("", False), (", Keras RMSprop", True)):
            jitted = lamella_model(device, jit_compile=True, keras_rule=keras_rule)
            started = time.perf_counter()
            jitted.fit(x_np, y_np, batch_size=BATCH, nb_epoch=1, verbose=0)
            jitted.predict(x_np, batch_size=BATCH)
            print(
                f"jit_compile{label} warm-up: the first fit epoch and predict, compiling "
                f"included, took {time.perf_counter() - started:.1f} s (not in the rows below)"
            )
            compiled = lamella_fit(jitted, x_np, y_np, BATCH)
            row = f"MLP fit (jit_compile{label})"
            bench.compare(row, [compiled, eager_loop], goal=goal, device=device)
        # predict compiles the forward pass alone: the last model's serves for both
        run = functools.partial(jitted.predict, x_np, batch_size=BATCH)
        ours_compiled = Contender("lamella", run, len(x))
        # torch.compile on the torch model: what compiling buys a hand-written loop
        theirs_compiled = torch.compile(theirs, dynamic=False)
        compiled_loop = functools.partial(torch_predict, theirs_compiled, x)
        torch_compiled = Contender("torch.compile", compiled_loop, len(x))
        torch_predict(theirs_compiled, x)  # compiled here, not in the first round
        times = bench.alternate([ours_compiled, predict[1], torch_compiled], device)
        for row, baseline in (("", predict[1]), (", vs torch.compile", torch_compiled)):
            record = summarize(f"MLP predict (jit_compile{row})", [ours_compiled, baseline], times)
            bench.add(record)
    bench.finish()


if __name__ == "__main__":
    main()
