"""Import time of ``lamella.models`` against ``import torch``, each in a fresh interpreter.

Every measurement starts a new Python process that times only the import statement
(the interpreter's own start-up is left out), so nothing is cached in memory between
rounds; the OS file cache is warmed by one unrecorded import of each first.  The goal
is an absolute one: lamella.models, which imports torch itself, may add at most
0.25 s, judged on the median of the paired differences.

    python bench/bench_import.py [--rounds 11]
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from harness import Bench, Contender, parser, summarize

ALLOWANCE = 0.25  # seconds lamella.models may add to import torch
TIMER = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"


def fresh_import(module: str) -> Contender:
    """Seconds to import ``module`` in a new interpreter, measured inside it."""

    def run() -> float:
        command = [sys.executable, "-c", TIMER.format(module)]
        return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    return Contender(module, run, self_timed=True)


def main() -> None:
    args = parser(__doc__, rounds=11).parse_args()
    bench = Bench("import time in fresh interpreters", args)
    contenders = [fresh_import("lamella.models"), fresh_import("torch")]
    times = bench.alternate(contenders)
    extra = statistics.median(a - b for a, b in zip(*times.values(), strict=True))
    record = summarize("import lamella.models", contenders, times, unit="s")
    record.goal_text = f"<= torch + {ALLOWANCE} s"
    record.met = extra <= ALLOWANCE
    record.note = f"median paired difference {extra:+.3f} s"
    bench.add(record)
    bench.finish()


if __name__ == "__main__":
    main()
