"""IMDB: 50,000 movie reviews as word-index sequences, labelled positive or negative."""

from __future__ import annotations

from lamella.keras2.construct import one_of
from lamella.preproc.datasets.sequences import Split, encode, shuffled
from lamella.preproc.datasets.sources import (
    KERAS_ORIGIN,
    Published,
    read_object_npz,
    read_word_index,
)

__all__ = ["get_word_index", "load_data"]

#: imdb.npz: the sha256 that tf.keras and Keras 3 (keras/datasets/imdb.py,
#: load_data) give get_file for this origin;
#: imdb_word_index.json: the md5 their get_word_index gives.
IMDB = Published(
    KERAS_ORIGIN + "imdb.npz", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
)
WORD_INDEX = Published(KERAS_ORIGIN + "imdb_word_index.json", "bfafd718b763782e994055a2d397834f")


def load_data(
    path: str = "imdb.npz",
    nb_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    *,
    allow_pickle: bool = False,
    num_words: int | None = None,
) -> tuple[Split, Split]:
    """``(X_train, y_train), (X_test, y_test)``: object arrays of word-index lists and 0/1 labels.

    Words are indexed by frequency (1 is the most frequent). As in Keras, the training
    reviews are shuffled by ``seed`` and the test reviews by ``seed * 2``; see
    :mod:`lamella.preproc.datasets.sequences` for the other arguments.
    ``allow_pickle=True`` opens a file of your own in ``imdb.npz``'s format (object arrays
    are pickled); without it only the published file is read.
    """
    nb_words = one_of(
        f"{__name__}.load_data", ("nb_words", nb_words), ("num_words", num_words), None
    )
    arrays = read_object_npz(path, IMDB, ("x_train", "y_train", "x_test", "y_test"), allow_pickle)
    parts = [
        shuffled(arrays["x_train"], arrays["y_train"], seed),
        shuffled(arrays["x_test"], arrays["y_test"], seed * 2),
    ]
    train, test = encode(parts, nb_words, skip_top, maxlen, start_char, oov_char, index_from)
    return train, test


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """The word -> index table (before ``index_from`` is added)."""
    return read_word_index(path, WORD_INDEX)
