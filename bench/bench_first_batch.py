"""Time from calling ``fit`` to its first batch: lamella against a hand-written PyTorch loop.

The MLP of bench_mlp.py on MNIST-sized random data (60000 x 784 float32 in numpy, batch
128).  Each round builds and compiles a fresh model outside the clock, then times the
first fit of it: lamella from the ``fit()`` call to a LambdaCallback's ``on_batch_begin``
(and, as a second record, to its ``on_batch_end``, the first step done; that callback
also stops training); the PyTorch loop from its start (``torch.from_numpy`` of the same
arrays) to just before its first forward pass, and to the end of its first step.
This is the fixed cost a user waits for before training starts; there is no goal.

    python bench/bench_first_batch.py [--rounds 25] [--samples 60000]
"""

from __future__ import annotations

import time

import numpy as np
import torch
from bench_mlp import BATCH, Crossentropy, lamella_model, torch_model
from harness import Bench, Contender, parser, summarize

from lamella.callbacks import LambdaCallback


def lamella_first_batch(x: np.ndarray, y: np.ndarray, stamps: dict[str, list[float]]):
    """The first fit of a fresh model; appends its two latencies to ``stamps``."""

    def run() -> float:
        model, began = lamella_model("cpu"), []

        def done(_index: int, _logs: dict) -> None:
            stamps["lamella done"].append(time.perf_counter() - start)
            model.stop_training = True

        hook = LambdaCallback(
            on_batch_begin=lambda _i, _logs: began.append(time.perf_counter()),
            on_batch_end=done,
        )
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, nb_epoch=1, verbose=0, callbacks=[hook])
        return began[0] - start

    return run


def torch_first_batch(x_np: np.ndarray, y_np: np.ndarray, stamps: dict[str, list[float]]):
    """The same for a hand-written loop, stopped after its first step."""

    def run() -> float:
        model, loss = torch_model(), Crossentropy("cpu")
        optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
        model.train()
        rows = torch.randperm(len(x))[:BATCH]
        began = time.perf_counter()
        value = loss(model(x.index_select(0, rows)), y.index_select(0, rows))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        stamps["torch done"].append(time.perf_counter() - start)
        return began - start

    return run


def main() -> None:
    args = parser(__doc__, rounds=25, samples=60000).parse_args()
    bench = Bench(f"fit() to first batch, MLP, {args.samples} samples", args)
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(10, size=args.samples)]
    stamps: dict[str, list[float]] = {"lamella done": [], "torch done": []}
    contenders = [
        Contender("lamella", lamella_first_batch(x, y, stamps), self_timed=True),
        Contender("torch", torch_first_batch(x, y, stamps), self_timed=True),
    ]
    times = bench.alternate(contenders)
    bench.add(summarize("fit() to first batch", contenders, times, unit="s"))
    # The same calls' second stamps, the warm-up's dropped to match the first record.
    finished = {name: stamps[f"{name} done"][-args.rounds :] for name in ("lamella", "torch")}
    bench.add(summarize("fit() to first step done", contenders, finished, unit="s"))
    bench.finish()


if __name__ == "__main__":
    main()
