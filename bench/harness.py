"""What every bench/ script shares: alternating rounds, paired ratios, records, JSON.

A shared machine drifts (other processes, frequency, caches), so the contenders of a
case run in the same process, one after another within each round, in reversed order
every other round; a round's times are then compared with each other, never with
another round's.  The convention everywhere: a ratio is lamella's throughput over the
other contender's on the same round (that contender's time / lamella's time for the
same work), so above 1 means lamella is faster.  The report is the median of each
contender's throughput and the median of the paired ratios.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

RATIO_CONVENTION = (
    "ratio = lamella's throughput / the other's (for latencies: the other's time / lamella's), "
    "median of per-round pairs; > 1 means lamella is faster"
)
KERAS_PATH_ENV = "LAMELLA_BENCH_KERAS_PATH"


@dataclass
class Contender:
    """One way of doing a case's work; ``work`` is how much one call does (e.g. samples).

    A ``self_timed`` run returns its own seconds, for work whose clock must start
    inside the call (a subprocess's import, a callback's timestamp).
    """

    name: str
    run: Callable[[], Any]
    work: float = 1.0
    self_timed: bool = False


@dataclass
class Record:
    """One case's result, as printed, written to JSON and tabled in RESULTS.md."""

    case: str
    unit: str  # "samples/s", "steps/s" ... (higher is better) or "s" (a latency)
    values: dict[str, float]  # each contender's median throughput, or median seconds
    ratios: dict[str, float]  # lamella against each other contender, median of paired ratios
    rounds: int
    goal: float | None = None  # the least ratio against the baseline that meets the goal
    goal_text: str = ""
    met: bool | None = None
    note: str = ""
    baseline: str = "torch"

    def line(self) -> str:
        parts = [f"{name} {show(value, self.unit)}" for name, value in self.values.items()]
        parts += [f"ratio vs {name} {ratio:.3f}x" for name, ratio in self.ratios.items()]
        if self.goal_text:
            parts.append(f"goal {self.goal_text}: {'met' if self.met else 'MISSED'}")
        note = f"; {self.note}" if self.note else ""
        return (
            f"{self.case:<24} " + "   ".join(parts) + f"   (median of {self.rounds} rounds{note})"
        )


def show(value: float, unit: str) -> str:
    return f"{value * 1e3:.2f} ms" if unit == "s" else f"{value:,.0f} {unit}"


def seconds(run: Callable[[], Any], device: str = "cpu") -> float:
    """Wall time of one call; on CUDA, of the work it queued too."""
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def repeat(run: Callable[[], Any], count: int) -> Callable[[], None]:
    """``run`` ``count`` times per call, for work too short to time alone."""

    def repeated() -> None:
        for _ in range(count):
            run()

    return repeated


def alternate(
    contenders: Sequence[Contender], rounds: int, device: str = "cpu", warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each contender, round by round, the order reversed every round."""
    for contender in contenders:
        for _ in range(warmup):  # allocator, kernel selection, lazy building
            contender.run()
    times: dict[str, list[float]] = {contender.name: [] for contender in contenders}
    order = list(contenders)
    for _ in range(rounds):
        for contender in order:
            took = contender.run() if contender.self_timed else seconds(contender.run, device)
            times[contender.name].append(float(took))
        order.reverse()
    return times


def summarize(
    case: str,
    contenders: Sequence[Contender],
    times: dict[str, list[float]],
    unit: str = "samples/s",
    goal: float | None = None,
    note: str = "",
) -> Record:
    """Medians and paired ratios; the first contender is lamella, the second the baseline."""
    speeds = {c.name: [c.work / t for t in times[c.name]] for c in contenders}
    ours, *others = (c.name for c in contenders)
    if unit == "s":
        values = {name: statistics.median(times[name]) for name in speeds}
    else:
        values = {name: statistics.median(rates) for name, rates in speeds.items()}
    ratios = {
        name: statistics.median(a / b for a, b in zip(speeds[ours], speeds[name], strict=True))
        for name in others
    }
    record = Record(case, unit, values, ratios, len(times[ours]), note=note)
    if others:
        record.baseline = others[0]
    if goal is not None and others:
        record.goal, record.goal_text = goal, f">= {goal:g}x"
        record.met = ratios[others[0]] >= goal
    return record


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


class Bench:
    """One script's run: settings, records, and the load average before and after."""

    def __init__(self, title: str, args: argparse.Namespace):
        torch.set_num_threads(args.threads)
        self.title, self.args, self.records = title, args, []
        self.keras_version: str | None = None
        self._keras: Any = False  # not looked for yet
        self.load_before = load_average()
        print(
            f"{title}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{args.rounds} rounds; load average before {self.load_before}"
        )
        print(RATIO_CONVENTION)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is None:
            self.finish()

    def keras(self) -> Any:
        """Keras 3 on the torch backend, or None with a printed note: contender (c) is optional.

        A private install can be named in $LAMELLA_BENCH_KERAS_PATH; it goes at the end
        of sys.path, so this environment's torch and numpy still win.  Keras runs on
        the CPU here; with ``--device cuda`` it is left out.
        """
        if self._keras is False:
            self._keras = self._import_keras()
        return self._keras

    def _import_keras(self) -> Any:
        if self.args.no_keras or getattr(self.args, "device", "cpu") != "cpu":
            print("note: Keras 3 left out (--no-keras, or not on the CPU)")
            return None
        os.environ.setdefault("KERAS_BACKEND", "torch")
        extra = os.environ.get(KERAS_PATH_ENV)
        if extra and extra not in sys.path:
            sys.path.append(extra)
        try:
            import keras
        except ImportError as exc:
            print(f"note: keras is not importable ({exc}); Keras 3 is skipped")
            return None
        if keras.backend.backend() != "torch":
            print(f"note: keras runs the {keras.backend.backend()} backend, not torch; skipped")
            return None
        print(f"keras {keras.__version__} (torch backend)")
        self.keras_version = keras.__version__
        return keras

    def compare(
        self,
        case: str,
        contenders: Sequence[Contender],
        unit: str = "samples/s",
        goal: float | None = None,
        note: str = "",
        device: str = "cpu",
    ) -> Record:
        times = self.alternate(contenders, device)
        return self.add(summarize(case, contenders, times, unit, goal, note))

    def alternate(self, contenders: Sequence[Contender], device: str = "cpu") -> dict:
        """Times for records of one's own making (several from one run, other goals)."""
        return alternate(contenders, self.args.rounds, device)

    def add(self, record: Record) -> Record:
        print(record.line(), flush=True)
        self.records.append(record)
        return record

    def finish(self) -> None:
        """Print the load average after; write the records where ``--json`` says."""
        load_after = load_average()
        print(f"load average after {load_after}")
        if self.args.json:
            report = {
                "script": self.title,
                "torch": torch.__version__,
                "keras": self.keras_version,
                "threads": torch.get_num_threads(),
                "rounds": self.args.rounds,
                "load_before": self.load_before,
                "load_after": load_after,
                "records": [asdict(record) for record in self.records],
            }
            with open(self.args.json, "w") as handle:
                json.dump(report, handle, indent=2)


def parser(
    doc: str,
    rounds: int,
    samples: int | None = None,
    keras_samples: int | None = None,
    device: bool = False,
) -> argparse.ArgumentParser:
    """The options every script takes, and those most share when given defaults."""
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--rounds", type=int, default=rounds)
    result.add_argument("--threads", type=int, default=2)
    result.add_argument("--json", default=None, help="write the records to this file")
    result.add_argument("--no-keras", action="store_true", help="leave Keras 3 out")
    if samples is not None:
        result.add_argument("--samples", type=int, default=samples)
    if keras_samples is not None:
        help = "Keras 3 is slow: it gets fewer samples per round (ratios are per sample)"
        result.add_argument("--keras-samples", type=int, default=keras_samples, help=help)
    if device:
        default = "cuda" if torch.cuda.is_available() else "cpu"
        result.add_argument("--device", default=default, help="Keras 3 runs on CPU only")
    return result


def lamella_fit(model: Any, x: Any, y: Any, batch_size: int) -> Contender:
    """One epoch of ``model.fit`` on numpy data, as a user calls it."""
    run = functools.partial(model.fit, x, y, batch_size=batch_size, nb_epoch=1, verbose=0)
    return Contender("lamella", run, len(x))


def keras_fit(model: Any, x: Any, y: Any, batch_size: int, samples: int) -> Contender:
    """One Keras 3 epoch over the first ``samples`` rows (Keras is slow, so often fewer)."""
    xs, ys = x[:samples], y[:samples]
    run = functools.partial(model.fit, xs, ys, batch_size=batch_size, epochs=1, verbose=0)
    return Contender("keras", run, len(xs))


def torch_fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
) -> Contender:
    """The baseline: a hand-written epoch over tensors prepared once, shuffled with randperm."""

    def epoch() -> None:
        model.train()
        order = torch.randperm(len(x), device=x.device)
        for start in range(0, len(x), batch_size):
            rows = order[start : start + batch_size]
            value = loss(model(x.index_select(0, rows)), y.index_select(0, rows))
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()

    return Contender("torch", epoch, len(x))
