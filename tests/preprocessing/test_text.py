"""Text helpers and the Tokenizer against hand-computed outputs."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from lamella.preproc.text import Tokenizer, base_filter, one_hot, text_to_word_sequence

TEXTS = ["The cat sat.", "The cat, the hat!", "A dog"]
LN2 = math.log(2)


def test_base_filter_is_punctuation_without_the_apostrophe():
    assert base_filter() == '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["hello", "world", "it's", "me"]),
        ({"lower": False}, ["Hello", "World", "It's", "me"]),
        ({"filters": ""}, ["hello,", "world!\tit's", "me"]),
    ],
)
def test_text_to_word_sequence(kwargs, expected):
    assert text_to_word_sequence("Hello, World!\tIt's  me", **kwargs) == expected


def test_text_to_word_sequence_with_another_split():
    assert text_to_word_sequence("a-b,c", split=",") == ["a", "b", "c"]


def test_one_hot_is_a_stable_hash():
    # MD5 of the UTF-8 word, first 8 bytes little-endian, mod 999, plus 1.
    assert one_hot("hello world Hello", 1000) == [664, 394, 664]
    code = "from lamella.preproc.text import one_hot; print(one_hot('hello world', 1000))"
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        )
        assert result.stdout.strip() == "[664, 394]"
    with pytest.raises(ValueError, match="one_hot: n must be"):
        one_hot("x", 1)


def test_tokenizer_fit_on_texts():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    assert dict(tok.word_counts) == {"the": 3, "cat": 2, "sat": 1, "hat": 1, "a": 1, "dog": 1}
    # by frequency, ties in order of first appearance
    assert tok.word_index == {"the": 1, "cat": 2, "sat": 3, "hat": 4, "a": 5, "dog": 6}
    assert tok.word_docs == {"the": 2, "cat": 2, "sat": 1, "hat": 1, "a": 1, "dog": 1}
    assert tok.index_docs == {1: 2, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1}
    assert tok.document_count == 3


def test_texts_to_sequences_drops_unknown_and_rare_words():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    assert tok.texts_to_sequences(["the hat and the cat"]) == [[1, 4, 1, 2]]
    assert list(tok.texts_to_sequences_generator(["dog", "zebra"])) == [[6], []]
    small = Tokenizer(nb_words=3)
    small.fit_on_texts(TEXTS)
    assert small.texts_to_sequences(["the hat and the cat"]) == [[1, 1, 2]]


@pytest.mark.parametrize(
    ("mode", "row0", "row1"),
    [
        ("binary", {1: 1.0, 2: 1.0}, {6: 1.0}),
        ("count", {1: 2.0, 2: 1.0}, {6: 1.0}),
        ("freq", {1: 2 / 3, 2: 1 / 3}, {6: 1.0}),
        # (1 + ln count) * ln(1 + 3 documents / (1 + documents with the word))
        ("tfidf", {1: (1 + LN2) * LN2, 2: LN2}, {6: math.log(2.5)}),
    ],
)
def test_texts_to_matrix_modes(mode, row0, row1):
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    expected = np.zeros((2, 7))
    for row, values in enumerate((row0, row1)):
        for index, value in values.items():
            expected[row, index] = value
    np.testing.assert_allclose(tok.texts_to_matrix(["the the cat", "dog"], mode=mode), expected)


def test_sequences_to_matrix_after_fit_on_sequences():
    tok = Tokenizer(nb_words=4)
    tok.fit_on_sequences([[1, 2], [2, 2, 3]])
    assert tok.document_count == 2 and tok.index_docs == {1: 1, 2: 2, 3: 1}
    out = tok.sequences_to_matrix([[2, 2, 9]], mode="tfidf")  # 9 >= nb_words: ignored
    expected = np.zeros((1, 4))
    expected[0, 2] = (1 + LN2) * math.log(1 + 2 / 3)
    np.testing.assert_allclose(out, expected)


def test_char_level_tokens_are_raw_characters():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["abcaA"])
    assert tok.word_index == {"a": 1, "b": 2, "c": 3, "A": 4}
    assert tok.texts_to_sequences(["cab"]) == [[3, 1, 2]]


@pytest.mark.parametrize(
    ("tokenizer", "mode", "message"),
    [
        (Tokenizer(), "binary", "pass nb_words"),
        (Tokenizer(nb_words=5), "tfidf", "tfidf"),
        (Tokenizer(nb_words=5), "onehot", "mode must be one of"),
    ],
)
def test_sequences_to_matrix_bad_input(tokenizer, mode, message):
    with pytest.raises(ValueError, match=f"Tokenizer.sequences_to_matrix: .*{message}"):
        tokenizer.sequences_to_matrix([[1]], mode=mode)


def test_text_must_be_a_string():
    with pytest.raises(TypeError, match="text_to_word_sequence: text must be a str"):
        text_to_word_sequence(["a list"])


def test_keras2_num_words_is_nb_words():
    small = Tokenizer(num_words=3)
    small.fit_on_texts(TEXTS)
    assert small.nb_words == 3
    assert small.texts_to_sequences(["the hat and the cat"]) == [[1, 1, 2]]
    with pytest.raises(TypeError, match=r"'num_words' \(Keras 2\) and 'nb_words'"):
        Tokenizer(nb_words=3, num_words=3)
