"""Time one optimizer step of lamella.optim against the matching torch.optim optimizer.

The model is four 1600x1600 linear layers (about 10M parameters) with fixed
gradients, ``--steps`` steps timed together per round.  Keras 1 places Adam's epsilon
differently from torch, so this compares speed, not numbers.

    python bench/bench_optimizer_step.py [--rounds 25] [--steps 3] [--device cpu]
"""

from __future__ import annotations

import functools

import torch
from harness import Bench, Contender, parser, repeat

from lamella.optim import SGD, Adam


def make_params(device: str) -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(1600, 1600) for _ in range(4))).to(device)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    return params


def compare(bench: Bench, label: str, lamella_opt, torch_factory, args) -> None:
    ours, theirs = make_params(args.device), make_params(args.device)
    lamella_opt.bind(ours)
    torch_opt = torch_factory(theirs)
    contenders = [
        Contender("lamella", repeat(lamella_opt.step, args.steps), args.steps),
        Contender("torch", repeat(torch_opt.step, args.steps), args.steps),
    ]
    note = f"{sum(p.numel() for p in ours) / 1e6:.1f}M parameters, {args.steps} steps per call"
    bench.compare(f"{label} step", contenders, unit="steps/s", note=note, device=args.device)


def main() -> None:
    options = parser(__doc__, rounds=25, device=True)
    options.add_argument("--steps", type=int, default=3, help="steps timed together per round")
    args = options.parse_args()
    bench = Bench(f"optimizer step on {args.device}", args)
    adam = functools.partial(torch.optim.Adam, lr=1e-3, foreach=True)
    compare(bench, "Adam", Adam(lr=1e-3), adam, args)
    sgd = functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9, foreach=True)
    compare(bench, "SGD momentum", SGD(lr=0.01, momentum=0.9), sgd, args)
    bench.finish()


if __name__ == "__main__":
    main()
