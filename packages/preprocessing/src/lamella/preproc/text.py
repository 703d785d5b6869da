"""Text preprocessing (Keras 1 API): word splitting, the hashing trick, the Tokenizer."""

from __future__ import annotations

import hashlib
import string
from collections import OrderedDict
from collections.abc import Iterable, Iterator

import numpy as np

from lamella.keras2.construct import one_of

__all__ = ["Tokenizer", "base_filter", "one_hot", "text_to_word_sequence"]


def base_filter() -> str:
    """The default filter characters: ASCII punctuation except the apostrophe, plus tab and newline.

    Keras 1.2.0 had this function and 1.2.1 replaced it by a default string; it stays for
    code written against the older release.
    """
    return string.punctuation.replace("'", "") + "\t\n"


DEFAULT_FILTERS = base_filter()
MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(
    text: str, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """The words of ``text``: optionally lower-cased, filter characters treated as separators."""
    if not isinstance(text, str):
        raise TypeError(f"text_to_word_sequence: text must be a str, got {type(text).__name__}")
    if lower:
        text = text.lower()
    text = text.translate({ord(c): split for c in filters})
    return [word for word in text.split(split) if word]


def _stable_hash(word: str) -> int:
    return int.from_bytes(
        hashlib.md5(word.encode("utf-8"), usedforsecurity=False).digest()[:8], "little"
    )


def one_hot(
    text: str, n: int, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[int]:
    """Each word of ``text`` hashed into 1..n-1 (the hashing trick; 0 stays free for padding).

    The hash is MD5 of the UTF-8 word, so indices are the same in every process and on
    every machine.  Keras used Python's ``hash``, which is salted per process on Python 3,
    so its indices differ from these (and from run to run).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"one_hot: n must be an integer of at least 2, got {n!r}")
    words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    return [_stable_hash(word) % (n - 1) + 1 for word in words]


class Tokenizer:
    """Turns texts into sequences of word indices or into bag-of-words matrices.

    ``word_index`` ranks words by frequency from 1 (ties in order of first appearance);
    0 is never a word.  With ``nb_words``, only indices below ``nb_words`` are used, i.e.
    the ``nb_words - 1`` most frequent words.  With ``char_level``, every character of the
    raw text is a token (no lower-casing, no filtering, as in Keras).
    """

    def __init__(
        self,
        nb_words: int | None = None,
        filters: str = DEFAULT_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        num_words: int | None = None,
    ) -> None:
        self.nb_words = one_of("Tokenizer", ("nb_words", nb_words), ("num_words", num_words), None)
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: dict[str, int] = {}
        self.word_index: dict[str, int] = {}
        self.index_docs: dict[int, int] = {}
        self.document_count = 0

    def _tokens(self, text: str) -> list[str] | str:
        if self.char_level:
            return text
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[str]) -> None:
        """Count words over ``texts`` (adding to earlier fits) and rebuild the indices."""
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for word in tokens:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            for word in set(tokens):
                self.word_docs[word] = self.word_docs.get(word, 0) + 1
        ranked = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        self.word_index = {word: rank for rank, (word, _) in enumerate(ranked, start=1)}
        self.index_docs = {self.word_index[word]: count for word, count in self.word_docs.items()}

    def fit_on_sequences(self, sequences: Iterable[Iterable[int]]) -> None:
        """Count, per index, the sequences it occurs in: what 'tfidf' needs for indexed data."""
        self.document_count = 0
        self.index_docs = {}
        for seq in sequences:
            self.document_count += 1
            for index in set(seq):
                self.index_docs[index] = self.index_docs.get(index, 0) + 1

    def texts_to_sequences(self, texts: Iterable[str]) -> list[list[int]]:
        """Each text as a list of word indices; unknown and out-of-range words are dropped."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts: Iterable[str]) -> Iterator[list[int]]:
        """Like :meth:`texts_to_sequences`, one text at a time."""
        limit = self.nb_words
        for text in texts:
            indices = (self.word_index.get(word) for word in self._tokens(text))
            yield [i for i in indices if i is not None and not (limit and i >= limit)]

    def texts_to_matrix(self, texts: Iterable[str], mode: str = "binary") -> np.ndarray:
        """One row per text over the vocabulary, filled as :meth:`sequences_to_matrix` does."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(
        self, sequences: Iterable[Iterable[int]], mode: str = "binary"
    ) -> np.ndarray:
        """A (n, nb_words) float64 matrix: per row, each index's weight in that sequence.

        'binary' 1 if present; 'count' occurrences; 'freq' occurrences / sequence length;
        'tfidf' ``(1 + ln count) * ln(1 + documents / (1 + documents containing it))``.
        Width is ``nb_words``, or ``len(word_index) + 1`` when nb_words is None.
        """
        where = "Tokenizer.sequences_to_matrix"
        if mode not in MATRIX_MODES:
            raise ValueError(f"{where}: mode must be one of {MATRIX_MODES}, got {mode!r}")
        if self.nb_words:
            width = self.nb_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError(f"{where}: pass nb_words to Tokenizer or fit it on some texts first")
        if mode == "tfidf" and not self.document_count:
            raise ValueError(f"{where}: mode 'tfidf' needs a Tokenizer fit on some data first")
        sequences = [list(seq) for seq in sequences]
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            indices, counts = np.unique([i for i in seq if i < width], return_counts=True)
            if not len(indices):
                continue
            if mode == "binary":
                x[row, indices] = 1.0
            elif mode == "count":
                x[row, indices] = counts
            elif mode == "freq":
                x[row, indices] = counts / len(seq)
            else:
                docs = np.array([self.index_docs.get(int(i), 0) for i in indices])
                idf = np.log(1.0 + self.document_count / (1.0 + docs))
                x[row, indices] = (1.0 + np.log(counts)) * idf
        return x
