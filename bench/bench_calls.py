"""Per-call cost: lamella's one-batch methods against the same calls written in PyTorch.

A reinforcement-learning agent (Keras 1's DQN examples) calls ``model.predict(state)``
for every step it takes and trains with ``train_on_batch`` (or ``fit`` of one batch) on a
small replay sample: there the fixed cost of a call, not the arithmetic, sets the speed.
The network is such an agent's Q-network, Dense(24, relu) -> Dense(24, relu) -> Dense(2)
on 4 inputs (CartPole), trained with mse and torch.optim.Adam; the PyTorch contenders do
the same work on the same numpy arrays: ``torch.from_numpy``, the module (under
``inference_mode`` to predict), ``.numpy()`` of the result, and for training one
Adam step whose loss is read back with ``.item()``, as the lamella methods return it.
There is no goal: these rows track the budget.

    python bench/bench_calls.py [--rounds 25] [--calls 200]
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from harness import Bench, Contender, parser, repeat
from torch import nn

from lamella.layers import Dense
from lamella.models import Sequential

INPUTS, UNITS, ACTIONS, REPLAY = 4, 24, 2, 32


def lamella_model() -> Sequential:
    torch.manual_seed(0)
    model = Sequential(
        [
            Dense(UNITS, input_dim=INPUTS, activation="relu"),
            Dense(UNITS, activation="relu"),
            Dense(ACTIONS),
        ]
    )
    model.compile(loss="mse", optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    return model


def torch_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(INPUTS, UNITS),
        nn.ReLU(),
        nn.Linear(UNITS, UNITS),
        nn.ReLU(),
        nn.Linear(UNITS, ACTIONS),
    )


def torch_predict(model: nn.Module, state: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        return model(torch.from_numpy(state)).numpy()


def torch_train(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: np.ndarray, y: np.ndarray
) -> float:
    model.train()
    loss = F.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    model.eval()
    return loss.item()


def main() -> None:
    options = parser(__doc__, rounds=25)
    options.add_argument("--calls", type=int, default=200, help="calls per timed round")
    args = options.parse_args()
    bench = Bench(f"per-call cost, {INPUTS}-{UNITS}-{UNITS}-{ACTIONS} MLP on cpu", args)
    rng = np.random.default_rng(0)
    state = rng.random((1, INPUTS), dtype=np.float32)
    x = rng.random((REPLAY, INPUTS), dtype=np.float32)
    y = rng.random((REPLAY, ACTIONS), dtype=np.float32)
    ours, theirs = lamella_model(), torch_model()
    optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    calls = args.calls
    predicting = [
        ("predict, one sample", ours.predict),
        ("predict_on_batch, one sample", ours.predict_on_batch),
    ]
    torch_predicts = repeat(functools.partial(torch_predict, theirs, state), calls)
    for case, method in predicting:
        contenders = [
            Contender("lamella", repeat(functools.partial(method, state), calls), calls),
            Contender("torch", torch_predicts, calls),
        ]
        bench.compare(case, contenders, unit="calls/s")
    training = [
        ("train_on_batch, 32 samples", functools.partial(ours.train_on_batch, x, y)),
        (
            "fit, one batch of 32",
            functools.partial(ours.fit, x, y, batch_size=REPLAY, nb_epoch=1, verbose=0),
        ),
    ]
    torch_step = functools.partial(torch_train, theirs, optimizer, x, y)
    for case, run in training:
        contenders = [
            Contender("lamella", repeat(run, calls), calls),
            Contender("torch", repeat(torch_step, calls), calls),
        ]
        bench.compare(case, contenders, unit="calls/s")
    bench.finish()


if __name__ == "__main__":
    main()
