"""Reuters: 11,228 newswires as word-index sequences, labelled with one of 46 topics."""

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

#: reuters.npz: the sha256 that tf.keras and Keras 3 (keras/datasets/reuters.py,
#: load_data) give get_file for this origin;
#: reuters_word_index.json: the md5 their get_word_index gives.
REUTERS = Published(
    KERAS_ORIGIN + "reuters.npz", "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
)
WORD_INDEX = Published(KERAS_ORIGIN + "reuters_word_index.json", "4d44cc38712099c9e383dc6e5f11a921")


def load_data(
    path: str = "reuters.npz",
    nb_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    *,
    allow_pickle: bool = False,
    num_words: int | None = None,
) -> tuple[Split, Split]:
    """``(X_train, y_train), (X_test, y_test)``: the newswires shuffled by ``seed``, filtered
    by ``maxlen``, and the last ``test_split`` of those kept for testing, as Keras does.

    The other arguments, ``allow_pickle`` included, work as in ``imdb.load_data``.
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"reuters.load_data: test_split must be in [0, 1), got {test_split!r}")
    nb_words = one_of(
        f"{__name__}.load_data", ("nb_words", nb_words), ("num_words", num_words), None
    )
    arrays = read_object_npz(path, REUTERS, ("x", "y"), allow_pickle)
    part = shuffled(arrays["x"], arrays["y"], seed)
    ((xs, labels),) = encode([part], nb_words, skip_top, maxlen, start_char, oov_char, index_from)
    cut = int(len(xs) * (1 - test_split))
    return (xs[:cut], labels[:cut]), (xs[cut:], labels[cut:])


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """The word -> index table (before ``index_from`` is added)."""
    return read_word_index(path, WORD_INDEX)
