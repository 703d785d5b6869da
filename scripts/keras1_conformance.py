"""How much of Keras 1.2.2's own test suite passes on lamella.

Extracts ``tests/`` of a Keras tag from a git checkout or mirror into a temporary folder and
runs it with pytest (in lamella's dev virtualenv by default), unchanged, with:

- every ``keras`` import answered by lamella (``keras1/alias.py``; ``MOVED`` lists the Keras 1
  names lamella keeps at another path);
- ``image_dim_ordering='tf'``, Keras 1.2.2's default, under which its suite ran;
- random stand-ins of the published shapes for the dataset downloads (``keras1/standin.py``);
- the numpy 1 aliases and pytest 3 ``str(excinfo)`` that the 2017 tests rely on
  (``keras1/compat.py``).

Tests that exercise Theano or TensorFlow themselves are left out and listed (``EXCLUDED``).
Writes a JSON report and prints passed / failed / error / skipped per file, the first
exception line of each failure, the failures grouped by cause (most frequent first), and
"N of M pass". A file that fails to import counts the tests its source defines (an estimate:
tests parametrized by a helper count once).

    python scripts/keras1_conformance.py --keras PATH_TO_KERAS_GIT [--tag 1.2.2]
        [-k EXPR] [tests/keras/layers ...]

A developer tool, not part of CI.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from keras1.alias import MOVED  # noqa: E402
from keras1.source import extract  # noqa: E402

# Tests that measure Theano or TensorFlow rather than the Keras API; a file or a file::test.
EXCLUDED = {
    "tests/keras/backend/test_backends.py": "compares the Theano and TensorFlow backends "
    "with each other (KTH vs KTF)",
    "tests/keras/test_sparse.py": "scipy sparse inputs through Theano/TensorFlow sparse "
    "tensors and both backend modules",
    "tests/keras/datasets/test_datasets.py": "downloads the published datasets (no network "
    "here); its body runs in 20% of runs at random",
    "tests/keras/preprocessing/test_text.py::test_tokenizer": "takes np.max of ragged lists, "
    "which numpy refuses since 1.24 (the test's own failure, before any Keras call)",
}

CONFTEST = """\
import sys

sys.path.insert(0, {harness!r})
from keras1 import alias, compat, standin

compat.install()
compat.install_pytest()
alias.install()
standin.install_datasets(published=standin.PUBLISHED)
pytest_plugins = ["keras1.record"]
"""


def count_tests(path: Path, only: str | None = None) -> int:
    """Tests a file defines, read from its source (for files that cannot be collected)."""

    def weight(func: ast.FunctionDef) -> int:
        n = 1
        for dec in func.decorator_list:
            if (
                isinstance(dec, ast.Call)
                and getattr(dec.func, "attr", "") == "parametrize"
                and len(dec.args) > 1
                and isinstance(dec.args[1], ast.List | ast.Tuple)
            ):
                n *= len(dec.args[1].elts)
        return n

    functions = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            functions += [f for f in node.body if isinstance(f, ast.FunctionDef)]
        elif isinstance(node, ast.FunctionDef):
            functions.append(node)
    return sum(
        weight(f)
        for f in functions
        if f.name.startswith("test") and (only is None or f.name == only)
    )


def run_pytest(args: argparse.Namespace, work: Path, record: Path, log: Path) -> None:
    tests = extract(args.keras, args.tag, "tests", work)
    (work / "conftest.py").write_text(CONFTEST.format(harness=str(HERE)))
    (work / "pytest.ini").write_text("[pytest]\n")  # keeps lamella's pyproject out of it
    command = [args.python, "-m", "pytest", *args.paths, "-p", "no:cacheprovider", "-q", "-rN"]
    command += [f"--timeout={args.timeout}", "--tb=short", "--continue-on-collection-errors"]
    command += ["-k", args.k] if args.k else []
    for target in EXCLUDED:
        command += ["--deselect" if "::" in target else "--ignore", target]
    env = dict(os.environ, KERAS1_RECORD=str(record), KERAS1_TESTS=str(tests))
    # No user settings; image_dim_ordering as Keras 1.2.2's default, which its suite ran under.
    env.update(LAMELLA_HOME=str(work / "home"), LAMELLA_IMAGE_DIM_ORDERING=args.dim_ordering)
    env.pop("PYTHONPATH", None)
    with log.open("w") as out:
        subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)


def _estimate(work: Path, file: str) -> int:
    """Tests in a file that failed to import, less those left out."""
    if not (work / file).is_file():
        return 1
    left_out = [t.partition("::")[2] for t in EXCLUDED if t.startswith(f"{file}::")]
    return count_tests(work / file) - sum(count_tests(work / file, name) for name in left_out)


def outcomes(record: Path, work: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """One result per test (or per file that failed to collect) from the phase records,
    and the ``MOVED`` entries the run needed."""
    results: dict[str, dict[str, Any]] = {}
    moved: list[str] = []
    for line in record.read_text().splitlines():
        entry = json.loads(line)
        if entry["when"] == "session":
            moved = entry["moved_applied"]
            continue
        result = results.setdefault(entry["nodeid"], {"outcome": "passed"})
        if entry["when"] == "collect":
            result.update(entry, estimated_tests=_estimate(work, entry["nodeid"]))
        elif entry["outcome"] == "failed" and result["outcome"] != "error":
            result.update(entry, outcome="failed" if entry["when"] == "call" else "error")
        elif entry["outcome"] == "skipped" and result["outcome"] == "passed":
            result.update(outcome="skipped", message=entry.get("message", ""))
    return results, moved


_RULES = [
    (r"Timeout >", lambda m, r: "timeout"),
    (r"No module named '([\w.]+)'", lambda m, r: f"missing module {m[1]}"),
    (r"cannot import name '(\w+)' from '([\w.]+)'", lambda m, r: f"missing name {m[2]}.{m[1]}"),
    (r"module '([\w.]+)' has no attribute '(\w+)'", lambda m, r: f"missing name {m[1]}.{m[2]}"),
    (r"'(\w+)' object has no attribute '(\w+)'", lambda m, r: f"{m[1]}.{m[2]} missing"),
    (r"(\w+)\(\) got an unexpected keyword argument '(\w+)'", lambda m, r: f"{m[1]}(): no {m[2]}="),
    (r"safe_mode=False", lambda m, r: "refuses to load stored Python code (safe_mode default)"),
    (r"^DID NOT RAISE", lambda m, r: f"no error raised: `{r.get('test_line')}`"),
]


def cause(result: dict[str, Any]) -> str:
    """A short name for why a test failed, shared by tests that fail the same way."""
    message = result.get("message", "")
    for pattern, name in _RULES:
        match = re.search(pattern, message)
        if match:
            return name(match, result)
    if not result.get("lamella_frame"):
        if result.get("exc_type") == "AssertionError":
            return f"assertion fails: `{result.get('test_line')}`"
        return f"{result.get('exc_type')} outside lamella: `{result.get('test_line')}`"
    where = f" in {result['lamella_entry']}" if result.get("lamella_entry") else ""
    text = re.sub(r"\d+", "N", message)[:90]
    return f"{result.get('exc_type')}{where}: {text}"


def report(results: dict[str, dict[str, Any]], work: Path) -> dict[str, Any]:
    files: dict[str, Counter[str]] = defaultdict(Counter)
    causes: dict[str, list[str]] = defaultdict(list)
    failures = []
    for nodeid, result in sorted(results.items()):
        file = nodeid.split("::")[0]
        weight = result.get("estimated_tests", 1)
        files[file][result["outcome"]] += weight
        if result["outcome"] in ("failed", "error"):
            line = f"{result.get('exc_type')}: {result.get('message', '')}"[:200]
            failures.append({"test": nodeid, "error": line, "cause": cause(result), **result})
            causes[cause(result)] += [nodeid] * weight
    total = Counter()
    for counts in files.values():
        total.update(counts)
    excluded = {
        target: {
            "reason": reason,
            "tests": count_tests(work / target.split("::")[0], target.partition("::")[2] or None),
        }
        for target, reason in EXCLUDED.items()
    }
    ordered = sorted(causes.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "total": dict(total),
        "counted": total["passed"] + total["failed"] + total["error"],
        "files": {file: dict(counts) for file, counts in sorted(files.items())},
        "causes": [{"cause": c, "tests": len(ids), "examples": ids[:5]} for c, ids in ordered],
        "failures": failures,
        "excluded": excluded,
    }


def print_summary(data: dict[str, Any]) -> None:
    kinds = ("passed", "failed", "error", "skipped")
    print(f"{'file':58} " + " ".join(f"{k:>7}" for k in kinds))
    for file, counts in data["files"].items():
        print(f"{file:58} " + " ".join(f"{counts.get(k, 0):>7}" for k in kinds))
    print("\nfailures (first exception line):")
    for failure in data["failures"]:
        print(f"  {failure['test']}\n      {failure['error']}")
    print("\nfailures by cause:")
    for entry in data["causes"]:
        print(f"  {entry['tests']:4}  {entry['cause']}")
    print("\nleft out:")
    for target, entry in data["excluded"].items():
        print(f"  {target} ({entry['tests']} tests): {entry['reason']}")
    print("\nnames lamella keeps at another path (mapped; `from lamella.<keras path>` fails):")
    for source in data["moved"]:
        print(f"  {source} -> {MOVED[source]}")
    if not data["moved"]:
        print("  (none needed in this run)")
    print(
        "datasets: random arrays of the published shapes (no network); settings: "
        f"image_dim_ordering={data['dim_ordering']!r}"
    )
    total = data["total"]
    print(
        f"\n{total.get('passed', 0)} of {data['counted']} pass"
        f" ({total.get('failed', 0)} failed, {total.get('error', 0)} errors;"
        f" {total.get('skipped', 0)} skipped by the tests themselves;"
        f" {sum(e['tests'] for e in data['excluded'].values())} left out)."
        " Files that fail to import count the tests their source defines."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras", type=Path, required=True, help="Keras git checkout/mirror")
    parser.add_argument("--tag", default="1.2.2")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--timeout", type=int, default=180, help="seconds per test")
    parser.add_argument(
        "--json", type=Path, default=Path(tempfile.gettempdir(), "keras1_conformance.json")
    )
    parser.add_argument("--dim-ordering", default="tf", help="'tf': Keras 1.2.2's default")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("-k", help="pytest -k expression, to run a part")
    parser.add_argument("paths", nargs="*", default=["tests"], help="test paths of the tag")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="keras1-tests-"))
    record, log = work / "record.jsonl", args.json.with_suffix(".log")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record.touch()
    try:
        run_pytest(args, work, record, log)
        results, moved = outcomes(record, work)
        data = report(results, work)
        data.update(tag=args.tag, timeout_s=args.timeout, dim_ordering=args.dim_ordering)
        data.update(moved=moved)
        args.json.write_text(json.dumps(data, indent=1))
        print_summary(data)
        print(f"report: {args.json}; pytest output: {log}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
