"""What the example programs share: their data, their options and the result check.

The examples run as scripts (``python examples/mnist_cnn.py``), so Python puts this
folder on ``sys.path`` and ``import _data`` finds this file without installing it.

Each Keras classic takes ``--data PATH``, a file in the published format read by
``lamella.datasets``; without it the program trains offline on data that is already
on the machine (scikit-learn's digits, Python's own documentation) or that the
functions below generate from the seed, shaped the way Keras's loaders shape theirs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


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


class _Options(argparse.ArgumentParser):
    """Fills in ``--epochs`` when it is not given: Keras's count with ``--data``."""

    def __init__(self, description: str, epochs: int, data_epochs: int):
        super().__init__(description=description)
        self.epochs, self.data_epochs = epochs, data_epochs

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        result = super().parse_args(args, namespace)
        if result.epochs is None:
            result.epochs = self.data_epochs if getattr(result, "data", None) else self.epochs
        return result


def parser(
    doc: str,
    epochs: int,
    seed: int = 1337,
    data: str | None = None,
    data_epochs: int | None = None,
) -> argparse.ArgumentParser:
    """The options every example takes: the first docstring line is the description.

    ``--expect`` lets a test run (the nox ``examples`` session) fail the program when
    the result it prints falls short of what its docstring promises.  ``data`` names
    the published file a program can read with ``--data`` instead of its offline data;
    on it ``--epochs`` defaults to ``data_epochs`` (Keras's count), offline to ``epochs``.
    """
    result = _Options(doc.splitlines()[0], epochs, data_epochs or epochs)
    keras = f", or {data_epochs} with --data" if data and data_epochs else ""
    result.add_argument("--epochs", type=int, help=f"default: {epochs}{keras}")
    result.add_argument("--seed", type=int, default=seed)
    result.add_argument(
        "--expect",
        type=float,
        default=None,
        metavar="ACCURACY",
        help="exit with status 1 when the final accuracy is below this",
    )
    if data:
        result.add_argument(
            "--data", type=Path, metavar="PATH", help=f"train on {data} instead of offline data"
        )
    return result


def check(accuracy: float, expect: float | None) -> None:
    """Exit non-zero when ``accuracy`` misses ``--expect``, so scripted runs notice."""
    if expect is not None and accuracy < expect:
        sys.exit(f"FAILED: accuracy {accuracy:.4f} is below the expected {expect:.4f}")


def report(model, x_test, y_test, expect: float | None, batch_size: int = 32) -> None:
    """Evaluate on the test set, print the two lines Keras's examples end with, and
    :func:`check` the accuracy."""
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    print(f"Test score: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")
    check(accuracy, expect)


def mnist(path: Path | None, seed: int) -> Split:
    """MNIST from ``path`` (mnist.npz), else the 8x8 digits, as images scaled to 0..1.

    Returns ``(x_train, y_train), (x_test, y_test)`` like ``mnist.load_data()``, with
    ``x`` of shape ``(n, rows, cols)`` in float32 and integer labels.
    """
    if path is None:
        x_train, y_train, x_test, y_test = load(seed)
        return (x_train.reshape(-1, 8, 8), y_train), (x_test.reshape(-1, 8, 8), y_test)
    from lamella.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=str(path))
    return (x_train.astype("float32") / 255, y_train), (x_test.astype("float32") / 255, y_test)


def cifar10(path: Path | None, seed: int) -> Split:
    """CIFAR-10 from ``path`` (cifar-10-binary.tar.gz), else coloured digits.

    Images are ``(n, 3, 32, 32)`` float32 in 0..1 ('th' ordering), labels ``(n, 1)``
    as ``cifar10.load_data()`` gives them.  Offline each 8x8 digit is upscaled
    smoothly to 32x32 and drawn in a random bright ink on a random dark background:
    colour pictures whose colours carry no information about the label.
    """
    if path is None:
        x_train, y_train, x_test, y_test = load(seed)
        rng = np.random.default_rng(seed)
        pictures = [paint(x, rng) for x in (x_train, x_test)]
        return (pictures[0], y_train[:, None]), (pictures[1], y_test[:, None])
    from lamella.datasets import cifar10

    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=str(path))
    return (channels_first(x_train), y_train), (channels_first(x_test), y_test)


def paint(x: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """``(n, 64)`` digits in 0..1 to ``(n, 3, size, size)`` colour pictures."""
    import torch

    ink = torch.nn.functional.interpolate(
        torch.from_numpy(x.reshape(-1, 1, 8, 8)), size=(size, size), mode="bilinear"
    ).numpy()
    background = rng.uniform(0, 0.3, size=(len(x), 3, 1, 1))
    colour = rng.uniform(0.5, 1, size=(len(x), 3, 1, 1))
    return (background + (colour - background) * ink).astype("float32")


def channels_first(x: np.ndarray) -> np.ndarray:
    """Images as float32 ``(n, 3, rows, cols)`` in 0..1, whichever ordering they came in."""
    if x.shape[-1] == 3:
        x = x.transpose(0, 3, 1, 2)
    return x.astype("float32") / 255


def reviews(seed: int, train: int = 2000, test: int = 500) -> Split:
    """Film reviews made up from the seed, in the form ``imdb.load_data()`` returns.

    Each review is a list of word indices (1 starts it, words count from 3 by
    frequency rank, as in Keras's imdb.npz) labelled 1 (positive) or 0.  Among
    common neutral words stand one to four sentiment phrases that all mean the
    label: a word of the label's side, or, three times in ten, a word of the other
    side negated by the word just before it ("not bad").  A reader who follows the
    negations gets every review right; one who counts words without their order
    is misled by the negated phrases.
    """
    rng = np.random.default_rng(seed)
    lexicon = Lexicon(rng)
    pairs = [lexicon.review(rng) for _ in range(train + test)]
    texts, labels = [text for text, _ in pairs], np.array([label for _, label in pairs])
    return (texts[:train], labels[:train]), (texts[train:], labels[train:])


class Lexicon:
    """The made-up reviews' words: indices by rank, some carrying sentiment."""

    size = 100  # ranks 1..99; index = rank + 3, as imdb.load_data(index_from=3) gives

    def __init__(self, rng: np.random.Generator):
        ranks = rng.permutation(np.arange(40, self.size))
        self.negators = np.array([12, 25, 33])  # "not", "never", "hardly"
        self.words = {1: ranks[:8], 0: ranks[8:16]}  # positive, negative
        sentiment = set(ranks[:16]) | set(self.negators)
        self.neutral = np.array([r for r in range(1, self.size) if r not in sentiment])
        zipf = np.cumsum(1.0 / self.neutral)  # the r-th commonest word is 1/r as frequent
        self.cumulative = zipf / zipf[-1]

    def review(self, rng: np.random.Generator) -> tuple[list[int], int]:
        """A start mark, then neutral words with phrases between them; and the label."""
        label = int(rng.integers(0, 2))
        words = [1, *self.filler(rng)]
        for _ in range(rng.integers(1, 5)):
            words += self.phrase(label, rng) + self.filler(rng)
        return words, label

    def filler(self, rng: np.random.Generator) -> list[int]:
        """A few neutral words, the common ones most often."""
        drawn = np.searchsorted(self.cumulative, rng.random(rng.integers(2, 12)))
        return [int(rank) + 3 for rank in self.neutral[drawn]]

    def phrase(self, meaning: int, rng: np.random.Generator) -> list[int]:
        """One sentiment word meaning ``meaning``, or its opposite negated."""
        if rng.random() < 0.3:
            return [
                int(rng.choice(self.negators)) + 3,
                int(rng.choice(self.words[1 - meaning])) + 3,
            ]
        return [int(rng.choice(self.words[meaning])) + 3]


def newswires(seed: int, count: int = 4000, topics: int = 46, test_split: float = 0.2) -> Split:
    """Newswires made up from the seed, in the form ``reuters.load_data()`` returns.

    Like Reuters' 46 topics, a few topics are common and most are rare (the k-th
    commonest is 1/k as frequent).  A wire is a start mark and 30 to 200 words,
    each drawn from a background of common words (nine in ten) or from its
    topic's 20 keywords, picked among the 270 words after the 30 commonest, so
    that topics share some.  Indices stay under 1000, as after ``load_data(nb_words=1000)``.
    """
    rng = np.random.default_rng(seed)
    vocabulary = np.arange(4, 1000)
    background = 1.0 / np.arange(1, len(vocabulary) + 1)  # Zipf again
    background /= background.sum()
    keywords = [rng.choice(vocabulary[30:300], size=20, replace=False) for _ in range(topics)]
    share = 1.0 / np.arange(1, topics + 1)
    labels = rng.choice(topics, size=count, p=share / share.sum())
    wires = []
    for label in labels:
        length = int(rng.integers(30, 201))
        topical = rng.random(length) < 0.1
        words = rng.choice(vocabulary, size=length, p=background)
        words[topical] = rng.choice(keywords[label], size=int(topical.sum()))
        wires.append([1, *(int(word) for word in words)])
    split = int(count * (1 - test_split))
    return (wires[:split], labels[:split]), (wires[split:], labels[split:])


def python_text(size: int) -> str:
    """The first ``size`` characters of the help topics that ship with Python.

    ``pydoc_data.topics`` holds the text ``help("if")`` and friends print: about
    460,000 characters of the language reference, in English, on every machine
    with Python.  Topics are joined in alphabetical order.
    """
    from pydoc_data.topics import topics

    return "\n".join(topics[name] for name in sorted(topics))[:size]
