"""Sequence preprocessing (Keras 1 API): padding, skip-gram pairs, word sampling tables."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

__all__ = ["make_sampling_table", "pad_sequences", "skipgrams"]

_SIDES = ("pre", "post")


def pad_sequences(
    sequences: Sequence[Sequence],
    maxlen: int | None = None,
    dtype: str = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float = 0.0,
) -> np.ndarray:
    """Stack sequences into one (n, maxlen, ...) array, padding and truncating to ``maxlen``.

    ``maxlen`` defaults to the longest sequence; 'pre' pads or cuts at the start, 'post'
    at the end.  Elements may themselves be arrays (their shape is taken from the first
    non-empty sequence and must agree across sequences).
    """
    where = "pad_sequences"
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in _SIDES:
            raise ValueError(f"{where}: {name} must be 'pre' or 'post', got {side!r}")
    lengths = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(
                f"{where}: sequences must be a list of sequences, got {type(s).__name__} "
                f"{s!r} at position {i}"
            )
        lengths.append(len(s))
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, int | np.integer) or maxlen < 0:
        raise ValueError(f"{where}: maxlen must be a non-negative integer or None, got {maxlen!r}")
    sample_shape = next((np.asarray(s).shape[1:] for s in sequences if len(s)), ())
    x = np.full((len(lengths), maxlen, *sample_shape), value).astype(dtype)
    if maxlen == 0:
        return x
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"{where}: the elements of sequence {i} have shape {kept.shape[1:]}, "
                f"expected {sample_shape} like the first non-empty sequence"
            )
        if padding == "post":
            x[i, : len(kept)] = kept
        else:
            x[i, maxlen - len(kept) :] = kept
    return x


def make_sampling_table(size: int, sampling_factor: float = 1e-5) -> np.ndarray:
    """Keep-probabilities for the words of rank 0..size-1 under a Zipf law (Keras 1's formula).

    Word frequency is approximated from its rank r via the harmonic number
    ``r (ln r + gamma) + 1/2 - 1/(12 r)``; the keep probability is
    ``min(1, sqrt(sampling_factor * that))``.  Rank 0 is treated as rank 1.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ValueError(f"make_sampling_table: size must be a non-negative integer, got {size!r}")
    gamma = 0.577
    rank = np.arange(size, dtype=np.float64)
    if size:
        rank[0] = 1.0
    inverse_frequency = rank * (np.log(rank) + gamma) + 0.5 - 1.0 / (12.0 * rank)
    return np.minimum(1.0, np.sqrt(sampling_factor * inverse_frequency))


def _labels(count: int, flag: int, categorical: bool) -> list:
    """``count`` labels ``flag`` (1 positive, 0 negative), one-hot as fresh lists if categorical."""
    return [[1 - flag, flag] for _ in range(count)] if categorical else [flag] * count


def skipgrams(
    sequence: Sequence[int],
    vocabulary_size: int,
    window_size: int = 4,
    negative_samples: float = 1.0,
    shuffle: bool = True,
    categorical: bool = False,
    sampling_table: Sequence[float] | None = None,
) -> tuple[list[list[int]], list]:
    """Word2vec training pairs: ``([[word, context], ...], labels)``.

    Positive pairs are the words within ``window_size`` of each word (index 0 means
    "no word" and is skipped; with a ``sampling_table`` a word is kept with probability
    ``sampling_table[word]``).  ``negative_samples`` times as many negative pairs join a
    shuffled copy of the words to contexts drawn uniformly from 1..vocabulary_size-1.
    Labels are 1/0, or [0, 1]/[1, 0] when ``categorical``.  Randomness comes from
    Python's ``random`` module, as in Keras.
    """
    where = "skipgrams"
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 0:
        raise ValueError(
            f"{where}: window_size must be a non-negative integer, got {window_size!r}"
        )
    if negative_samples > 0 and vocabulary_size < 2:
        raise ValueError(
            f"{where}: vocabulary_size must be at least 2 to draw negative samples, "
            f"got {vocabulary_size!r}"
        )
    couples: list[list[int]] = []
    for i, word in enumerate(sequence):
        if not word:
            continue
        if sampling_table is not None and sampling_table[word] < random.random():
            continue
        for j in range(max(0, i - window_size), min(len(sequence), i + window_size + 1)):
            if j != i and sequence[j]:
                couples.append([word, sequence[j]])
    labels = _labels(len(couples), 1, categorical)

    nb_negative = int(len(couples) * negative_samples) if couples else 0
    if nb_negative > 0:
        words = [pair[0] for pair in couples]
        random.shuffle(words)
        couples += [
            [words[k % len(words)], random.randint(1, vocabulary_size - 1)]
            for k in range(nb_negative)
        ]
        labels += _labels(nb_negative, 0, categorical)

    if shuffle:
        order = list(range(len(couples)))
        random.shuffle(order)
        couples = [couples[k] for k in order]
        labels = [labels[k] for k in order]
    return couples, labels
