"""What IMDB and Reuters share: Keras's steps from stored word indexes to a model's input.

In Keras's order: shuffle (:func:`shuffled`); shift every word index by ``index_from``
and put ``start_char`` first; keep only sequences *shorter* than ``maxlen`` (the
start character counts); then keep the words ranked ``skip_top`` to ``nb_words`` and
replace the others by ``oov_char``, or drop them when it is None (:func:`encode`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Part = tuple[Sequence[Sequence[int]], np.ndarray]
#: One split as a loader returns it: an object array of word-index lists, and the labels.
Split = tuple[np.ndarray, np.ndarray]


def shuffled(xs: Sequence[Sequence[int]], labels: np.ndarray, seed: int) -> Part:
    """Both arrays in one random order: the order Keras got from ``np.random.seed(seed)``
    then ``np.random.shuffle`` on each, without touching numpy's global generator."""
    order = np.random.RandomState(seed).permutation(len(xs))
    return [xs[i] for i in order], np.asarray(labels)[order]


def encode(
    parts: list[Part],
    nb_words: int | None,
    skip_top: int,
    maxlen: int | None,
    start_char: int | None,
    oov_char: int | None,
    index_from: int,
) -> list[Split]:
    """Each part's ``(sequences, labels)`` after Keras's steps; sequences as an object array.

    ``maxlen`` filters each part on its own. ``nb_words=None`` means Keras's bound: the
    largest index seen in any part, which (as in Keras) itself falls outside the vocabulary.
    """
    first = [] if start_char is None else [start_char]
    shifted = [([first + [w + index_from for w in x] for x in xs], labels) for xs, labels in parts]
    if maxlen:
        shifted = [_shorter_than(maxlen, xs, labels) for xs, labels in shifted]
        if not any(len(xs) for xs, _ in shifted):
            raise ValueError(
                f"maxlen={maxlen} leaves no sequence: only those shorter than maxlen "
                "(start_char included) are kept; increase maxlen"
            )
    if not nb_words:
        nb_words = max((max(x) for xs, _ in shifted for x in xs if x), default=0)
    return [
        (_objects([_vocabulary(x, nb_words, skip_top, oov_char) for x in xs]), np.asarray(labels))
        for xs, labels in shifted
    ]


def _shorter_than(maxlen: int, xs: list[list[int]], labels: np.ndarray) -> Part:
    keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
    return [xs[i] for i in keep], np.asarray(labels)[keep]


def _vocabulary(x: list[int], nb_words: int, skip_top: int, oov_char: int | None) -> list[int]:
    if oov_char is None:
        return [w for w in x if skip_top <= w < nb_words]
    return [w if skip_top <= w < nb_words else oov_char for w in x]


def _objects(xs: list[list[int]]) -> np.ndarray:
    """A 1-D object array of lists, as Keras returns (numpy would make equal lengths 2-D)."""
    result = np.empty(len(xs), dtype=object)
    result[:] = xs
    return result
