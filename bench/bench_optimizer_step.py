"""Time one optimizer step of lamella.optim against the matching torch.optim optimizer.

The model is four 1600x1600 linear layers (about 10M parameters) with fixed
gradients.  The contenders alternate within each round, so drift of a shared
machine hits both alike; the report is the median time per step of each and the
median of the per-round ratios (lamella / torch).  Keras 1 places Adam's epsilon
differently from torch, so this compares speed, not numbers.

    python bench/bench_optimizer_step.py [--rounds 30] [--steps 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from lamella.optim import SGD, Adam


def make_params(device: str) -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(1600, 1600) for _ in range(4))).to(device)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    return params


def seconds_per_step(step: Callable[[], None], steps: int, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def compare(label: str, lamella_opt, torch_factory, rounds: int, steps: int, device: str) -> None:
    ours, theirs = make_params(device), make_params(device)
    lamella_opt.bind(ours)
    torch_opt = torch_factory(theirs)
    for _ in range(2):  # warm up: state allocation, first-call costs
        lamella_opt.step()
        torch_opt.step()
    times: dict[str, list[float]] = {"lamella": [], "torch": []}
    for _ in range(rounds):
        times["lamella"].append(seconds_per_step(lamella_opt.step, steps, device))
        times["torch"].append(seconds_per_step(torch_opt.step, steps, device))
    ratios = [a / b for a, b in zip(times["lamella"], times["torch"], strict=True)]
    count = sum(p.numel() for p in ours)
    print(
        f"{label:<14} {count / 1e6:.1f}M params  "
        f"lamella {statistics.median(times['lamella']) * 1e3:8.2f} ms  "
        f"torch {statistics.median(times['torch']) * 1e3:8.2f} ms  "
        f"median ratio {statistics.median(ratios):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=3, help="steps timed together per round")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    compare(
        "Adam",
        Adam(lr=1e-3),
        lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True),
        args.rounds,
        args.steps,
        args.device,
    )
    compare(
        "SGD momentum",
        SGD(lr=0.01, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True),
        args.rounds,
        args.steps,
        args.device,
    )


if __name__ == "__main__":
    main()
