"""What IMDB and Reuters share: word-index sequences turned into a model's input.

Keras's steps, in order: shift every word index by ``index_from`` and put
``start_char`` first; drop sequences longer than ``maxlen``; then keep the words
ranked ``skip_top`` to ``nb_words`` and replace the others by ``oov_char`` (or drop
them when it is None).  Each split is filtered on its own, so ``maxlen`` never moves
a sequence from train to test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Part = tuple[Sequence[Sequence[int]], np.ndarray]


def encode(
    parts: list[Part],
    nb_words: int | None,
    skip_top: int,
    maxlen: int | None,
    start_char: int | None,
    oov_char: int | None,
    index_from: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each part's ``(sequences, labels)`` after Keras's steps; sequences as an object array."""
    first = [] if start_char is None else [start_char]
    shifted = [([first + [w + index_from for w in x] for x in xs], labels) for xs, labels in parts]
    if maxlen:
        shifted = [_no_longer_than(maxlen, xs, labels) for xs, labels in shifted]
        if not any(len(xs) for xs, _ in shifted):
            raise ValueError(f"maxlen={maxlen} leaves no sequence: every one is longer")
    if not nb_words:
        nb_words = max(max(x) for xs, _ in shifted for x in xs if x) + 1
    return [
        (_objects([_vocabulary(x, nb_words, skip_top, oov_char) for x in xs]), np.asarray(labels))
        for xs, labels in shifted
    ]


def _no_longer_than(
    maxlen: int, xs: list[list[int]], labels: np.ndarray
) -> tuple[list, np.ndarray]:
    keep = [i for i, x in enumerate(xs) if len(x) <= maxlen]
    return [xs[i] for i in keep], np.asarray(labels)[keep]


def _vocabulary(x: list[int], nb_words: int, skip_top: int, oov_char: int | None) -> list[int]:
    if oov_char is None:
        return [w for w in x if skip_top <= w < nb_words]
    return [w if skip_top <= w < nb_words else oov_char for w in x]


def _objects(xs: list[list[int]]) -> np.ndarray:
    """A 1-D object array of lists, as Keras returns (numpy would make ragged lists 2-D)."""
    result = np.empty(len(xs), dtype=object)
    result[:] = xs
    return result
