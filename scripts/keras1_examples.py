"""Which of Keras 1.2.2's example programs run to the end on lamella.

Extracts ``examples/`` of a Keras tag from a git checkout or mirror into a temporary folder and
runs each program unchanged, in its own subprocess and working folder, with ``keras`` aliased
to lamella and small generated data in place of downloads (``scripts/keras1/standin.py``:
datasets, ``get_file``, and training capped at ``KERAS1_MAX_EPOCHS`` epochs / at most
``KERAS1_MAX_SAMPLES`` samples per ``fit``). Prints and writes (JSON) per example: runs,
fails (with the last error line) or timeout (with the last line it printed).

    python scripts/keras1_examples.py --keras PATH_TO_KERAS_GIT [--tag 1.2.2] [NAME ...]

A developer tool, not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from keras1.source import extract  # noqa: E402

# Examples that cannot run here whatever lamella does.
LEFT_OUT = {
    "conv_filter_visualization.py": "needs VGG16's pretrained ImageNet weights",
    "deep_dream.py": "needs VGG16's pretrained ImageNet weights and an image argument",
    "neural_doodle.py": "needs VGG19's pretrained ImageNet weights and image arguments",
    "neural_style_transfer.py": "needs VGG19's pretrained ImageNet weights and image arguments",
    "image_ocr.py": "renders text with cairocffi and scores with editdistance (not installed) "
    "and downloads word lists",
    "pretrained_word_embeddings.py": "reads GloVe vectors and the 20 Newsgroups corpus from "
    "folders at /glove.6B and /20_newsgroup",
}

# Failures whose cause lies in the example (Python 2, Theano), so that a reader need not dig.
NOT_LAMELLA = {
    "babi_memnn.py": "tokenize() uses re.split('(\\W+)?'), which since Python 3.7 splits at "
    "empty matches and yields None",
    "babi_rnn.py": "the same tokenize() as babi_memnn.py",
    "mnist_net2net.py": "written for image_dim_ordering 'th' (its docstring says so); under 'th' "
    "it stops at Python 2 division used as an index, (kh - 1) / 2",
}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in re.split(r"[\r\n]", text) if ln.strip()]
    return lines[-1] if lines else ""


def run_one(python: str, example: Path, timeout: int, env: dict[str, str]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=example.stem + "-", dir=example.parent.parent))
    command = [python, str(HERE / "keras1" / "standin.py"), str(example)]
    with subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so that a timeout ends its worker processes too
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            return {"status": "timeout", "line": _last_line(out)}
    if process.returncode == 0:
        return {"status": "runs", "line": _last_line(out)}
    return {"status": "fails", "line": _last_line(err) or f"exit code {process.returncode}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras", type=Path, required=True, help="Keras git checkout/mirror")
    parser.add_argument("--tag", default="1.2.2")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--timeout", type=int, default=120, help="seconds per example")
    parser.add_argument("--max-epochs", default="2", help="0: as written")
    parser.add_argument("--max-samples", default="512", help="per fit; 0: as written")
    parser.add_argument("--dim-ordering", default="tf", help="'tf': Keras 1.2.2's default")
    parser.add_argument(
        "--json", type=Path, default=Path(tempfile.gettempdir(), "keras1_examples.json")
    )
    parser.add_argument("names", nargs="*", help="examples to run (default: all)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keras1-examples-") as work:
        examples = extract(args.keras, args.tag, "examples", Path(work))
        env = dict(os.environ, KERAS1_MAX_EPOCHS=args.max_epochs)
        env.update(KERAS1_MAX_SAMPLES=args.max_samples, MPLBACKEND="Agg")
        env.update(LAMELLA_HOME=str(Path(work) / "home"))
        env.update(LAMELLA_IMAGE_DIM_ORDERING=args.dim_ordering)
        env.pop("PYTHONPATH", None)
        results: dict[str, dict[str, Any]] = {}
        for example in sorted(examples.glob("*.py")):
            if args.names and example.stem not in args.names and example.name not in args.names:
                continue
            if example.name in LEFT_OUT:
                results[example.name] = {"status": "left out", "line": LEFT_OUT[example.name]}
                continue
            result = run_one(args.python, example, args.timeout, env)
            if result["status"] != "runs" and example.name in NOT_LAMELLA:
                result["note"] = NOT_LAMELLA[example.name]
            results[example.name] = result
            print(f"{example.name:32} {result['status']:8} {result['line'][:150]}", flush=True)

    counts = {s: sum(r["status"] == s for r in results.values()) for s in ("runs", "fails")}
    counts["timeout"] = sum(r["status"] == "timeout" for r in results.values())
    print("\nleft out:")
    for name, result in results.items():
        if result["status"] == "left out":
            print(f"  {name}: {result['line']}")
    for name, result in results.items():
        if "note" in result:
            print(f"note: {name}: {result['note']}")
    tried = len(results) - sum(r["status"] == "left out" for r in results.values())
    print(
        f"\n{counts['runs']} of {tried} examples run to the end ({counts['fails']} fail, "
        f"{counts['timeout']} time out after {args.timeout} s); epochs capped at "
        f"{args.max_epochs}, samples per fit at {args.max_samples} (0: as written)."
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"tag": args.tag, "counts": counts, "examples": results}))
    print(f"report: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
