"""MLP fit and predict: lamella against a hand-written PyTorch loop doing the same maths.

The classic MNIST-shaped MLP (784-64-64-10, relu, dropout 0.2, softmax,
categorical crossentropy, RMSprop through torch.optim, batch 128) on random data.
The contenders alternate for several rounds in one process; the script prints
the median throughput of each and the median of the paired ratios.

    python bench/bench_mlp.py [--rounds 7] [--samples 8192] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from torch import nn

from lamella.layers import Activation, Dense, Dropout
from lamella.models import Sequential

EPS = 1e-7


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


def torch_model() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Sequential(
        nn.Linear(784, 64),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(64, 10),
        nn.Softmax(dim=-1),
    )
    return model, torch.optim.RMSprop(model.parameters(), lr=1e-3)


def torch_fit_epoch(model, optimizer, x, y, batch_size):
    """What a careful PyTorch user writes: same loss, accuracy summed on the device."""
    model.train()
    order = torch.randperm(len(x))
    total = torch.zeros(2)
    for start in range(0, len(x), batch_size):
        rows = order[start : start + batch_size]
        xb, yb = x.index_select(0, rows), y.index_select(0, rows)
        optimizer.zero_grad(set_to_none=True)
        probs = model(xb)
        probs = (probs / probs.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
        loss = -(yb * probs.log()).sum(-1).mean()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            acc = (probs.argmax(-1) == yb.argmax(-1)).float().mean()
            total += torch.stack([loss.detach(), acc]) * len(rows)
    return (total / len(x)).tolist()


def torch_predict(model, x, batch_size):
    model.eval()
    with torch.inference_mode():
        return torch.cat(
            [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        ).numpy()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x_np = rng.random((args.samples, 784), dtype=np.float32)
    y_np = np.eye(10, dtype=np.float32)[rng.integers(10, size=args.samples)]
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    ours = lamella_model()
    theirs, optimizer = torch_model()
    bs = args.batch_size

    contenders = {
        "fit": (
            lambda: ours.fit(x_np, y_np, batch_size=bs, nb_epoch=1, verbose=0),
            lambda: torch_fit_epoch(theirs, optimizer, x, y, bs),
        ),
        "predict": (
            lambda: ours.predict(x_np, batch_size=bs),
            lambda: torch_predict(theirs, x, bs),
        ),
    }
    results = {}
    for case, (lamella_run, torch_run) in contenders.items():
        lamella_run(), torch_run()  # warm up
        pairs = []
        for round_index in range(args.rounds):
            first, second = (
                (lamella_run, torch_run) if round_index % 2 == 0 else (torch_run, lamella_run)
            )
            t_first, t_second = timed(first), timed(second)
            t_lamella, t_torch = (
                (t_first, t_second) if round_index % 2 == 0 else (t_second, t_first)
            )
            pairs.append((t_lamella, t_torch))
        lamella_sps = statistics.median(args.samples / a for a, _ in pairs)
        torch_sps = statistics.median(args.samples / b for _, b in pairs)
        ratio = statistics.median(b / a for a, b in pairs)  # lamella throughput / torch's
        results[case] = {
            "lamella_samples_per_s": lamella_sps,
            "torch_samples_per_s": torch_sps,
            "median_paired_ratio": ratio,
        }
        print(
            f"MLP {case:8s} lamella {lamella_sps:10.0f}/s   torch loop {torch_sps:10.0f}/s   "
            f"ratio {ratio:.3f}x (median of {args.rounds} paired rounds)"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"case": "mlp", "torch": torch.__version__, **results}, handle, indent=2)


if __name__ == "__main__":
    main()
