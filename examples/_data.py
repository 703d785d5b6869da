"""What the example programs share: the digits split, their options and the result check.

The examples run as scripts (``python examples/digits_cnn.py``), so Python puts this
folder on ``sys.path`` and ``import _data`` finds this file without installing it.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.datasets import load_digits


def load(seed: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's 1797 8x8 digits scaled to 0..1, shuffled by ``seed``, split 80/20.

    Returns ``x_train, y_train, x_test, y_test`` with ``x`` of shape ``(n, 64)`` and
    integer labels; reshape ``x`` for convolutions.
    """
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")  # pixel values 0..16
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], digits.target[order]
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def parser(doc: str, epochs: int, seed: int = 1337) -> argparse.ArgumentParser:
    """The options every example takes: the first docstring line is the description.

    ``--expect`` lets a test run (the nox ``examples`` session) fail the program when
    the result it prints falls short of what its docstring promises.
    """
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--epochs", type=int, default=epochs)
    result.add_argument("--seed", type=int, default=seed)
    result.add_argument(
        "--expect",
        type=float,
        default=None,
        metavar="ACCURACY",
        help="exit with status 1 when the final accuracy is below this",
    )
    return result


def check(accuracy: float, expect: float | None) -> None:
    """Exit non-zero when ``accuracy`` misses ``--expect``, so scripted runs notice."""
    if expect is not None and accuracy < expect:
        sys.exit(f"FAILED: accuracy {accuracy:.4f} is below the expected {expect:.4f}")
