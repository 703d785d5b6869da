"""Run every bench/bench_*.py, each in its own process; write results.json and RESULTS.md.

One process per script keeps one case's allocator, threads and imports out of
another's numbers (and import time needs fresh interpreters anyway).  Options after
the known ones go to every script, e.g. ``--rounds 3`` for a quick pass; ``--note``
is printed in RESULTS.md, for what the numbers cannot say (who else used the machine).

    python bench/run_all.py [--only mlp cnn] [--note "..."] [-- --rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness import RATIO_CONVENTION, load_average, show

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    """What the numbers depend on, for the header of RESULTS.md."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("torch", "numpy", "lamella-core"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        **versions,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run_script(script: Path, extra: list[str]) -> dict:
    """One script in a fresh process; its JSON report, or a record of its failure."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script), "--json", str(out), *extra])
        took = time.perf_counter() - start
        if done.returncode != 0 or not out.exists():
            return {"script": script.name, "failed": done.returncode, "records": []}
        report = json.loads(out.read_text())
    return {**report, "file": script.name, "wall_s": round(took, 1)}


def cell(values: dict, name: str, unit: str) -> str:
    return show(values[name], unit) if name in values else "—"


def ratio_cell(ratios: dict, name: str) -> str:
    return f"{ratios[name]:.3f}x" if name in ratios else "—"


def table(reports: list[dict]) -> list[str]:
    rows = [
        "| Case | lamella | torch loop (b) | ratio vs (b) | Keras 3 (c) | ratio vs (c) "
        "| goal | met? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for report in reports:
        for record in report["records"]:
            values, ratios, unit = record["values"], record["ratios"], record["unit"]
            ours = next(iter(values))
            met = {True: "yes", False: "**no**", None: "—"}[record["met"]]
            if record["met"] is False and record["goal"] is not None:  # 0.9498 shows as 0.950
                met += f" ({ratios[record['baseline']]:.4f})"
            torch = record["baseline"] if record["baseline"].startswith("torch") else "torch"
            rows.append(
                f"| {record['case']} | {show(values[ours], unit)} | {cell(values, torch, unit)} "
                f"| {ratio_cell(ratios, torch)} | {cell(values, 'keras', unit)} "
                f"| {ratio_cell(ratios, 'keras')} | {record['goal_text'] or '—'} | {met} |"
            )
    return rows


def markdown(info: dict, reports: list[dict], extra: list[str], note: str, load: list) -> str:
    keras = sorted({r["keras"] for r in reports if r.get("keras")})
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run_all.py` (`nox -s bench`) on {info['date']}. "
        f"{RATIO_CONVENTION}. Values are medians over rounds in which the contenders "
        "alternate in one process (see bench/harness.py).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, "
        f"torch {info['torch']}, numpy {info['numpy']}, lamella {info['lamella-core']}, "
        f"Keras {', '.join(keras) if keras else 'not installed (contender (c) skipped)'}; "
        f"2 torch threads. Options given to every script: `{' '.join(extra) or 'none'}`.",
        "",
        "(b) is a hand-written PyTorch loop over tensors prepared once (for a row named "
        "'same maths', the step loop of keras1_loops.py; for 'vs torch.compile', that loop "
        "with its model compiled); (c) is Keras 3 with "
        "the torch backend, given fewer samples per round where it is slow (`--keras-samples`; "
        "throughputs are per sample). Rounds are each script's default unless set above.",
        "",
        f"Load average (1, 5, 15 min) before the suite {load[0]}, after {load[1]}.",
    ]
    if note:
        lines += ["", f"**Note:** {note}"]
    lines += ["", *table(reports), "", "## Per script", ""]
    for report in reports:
        if "failed" in report:
            lines.append(f"- `{report['script']}`: FAILED (exit status {report['failed']})")
            continue
        lines.append(
            f"- `{report['file']}` ({report['script']}): {report['rounds']} rounds, "
            f"{report['wall_s']} s, load average {report['load_before']} before, "
            f"{report['load_after']} after."
        )
        lines += [f"  - {r['case']}: {r['note']}" for r in report["records"] if r["note"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--only", nargs="*", help="script names without bench_, e.g. mlp")
    options.add_argument("--note", default="", help="a sentence for RESULTS.md")
    options.add_argument("--markdown", default=str(HERE / "RESULTS.md"))
    options.add_argument("--results", default=str(HERE / "results.json"))
    options.add_argument(
        "--render-only", action="store_true", help="rewrite the Markdown from --results"
    )
    args, extra = options.parse_known_args()
    extra = [value for value in extra if value != "--"]
    if args.render_only:
        saved = json.loads(Path(args.results).read_text())
        note = args.note or saved.get("note", "")
        text = markdown(saved["machine"], saved["reports"], saved["options"], note, saved["load"])
        Path(args.markdown).write_text(text)
        return
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    info, before = machine(), load_average()
    print(f"machine {info}; load average {before}", flush=True)
    reports = []
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        reports.append(run_script(script, extra))
    load = [before, load_average()]
    everything = {"machine": info, "load": load, "options": extra, "note": args.note}
    everything["reports"] = reports
    Path(args.results).write_text(json.dumps(everything, indent=2) + "\n")
    Path(args.markdown).write_text(markdown(info, reports, extra, args.note, load))
    print(f"\nwrote {args.results} and {args.markdown}")
    if any("failed" in report for report in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
