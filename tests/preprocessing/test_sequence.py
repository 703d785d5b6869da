"""pad_sequences, skipgrams and make_sampling_table against hand-computed outputs."""

import random

import numpy as np
import pytest

from lamella.preproc.sequence import make_sampling_table, pad_sequences, skipgrams

SEQS = [[1, 2, 3], [4, 5], [6]]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [[1, 2, 3], [0, 4, 5], [0, 0, 6]]),
        ({"maxlen": 2}, [[2, 3], [4, 5], [0, 6]]),
        ({"maxlen": 2, "truncating": "post"}, [[1, 2], [4, 5], [0, 6]]),
        ({"maxlen": 4, "padding": "post"}, [[1, 2, 3, 0], [4, 5, 0, 0], [6, 0, 0, 0]]),
        ({"value": -1}, [[1, 2, 3], [-1, 4, 5], [-1, -1, 6]]),
        ({"maxlen": 1, "padding": "post", "truncating": "post"}, [[1], [4], [6]]),
    ],
)
def test_pad_sequences(kwargs, expected):
    out = pad_sequences(SEQS, **kwargs)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, expected)


def test_pad_sequences_dtype_empty_sequences_and_zero_length():
    out = pad_sequences([[], [0.5, 1.5]], dtype="float32", value=0.25)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.25, 0.25], [0.5, 1.5]])
    assert pad_sequences(SEQS, maxlen=0).shape == (3, 0)
    assert pad_sequences([]).shape == (0, 0)


def test_pad_sequences_of_vectors():
    out = pad_sequences([[[1, 1], [2, 2]], [[3, 3]]])
    np.testing.assert_array_equal(out, [[[1, 1], [2, 2]], [[0, 0], [3, 3]]])


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((SEQS,), {"padding": "middle"}, "pad_sequences: padding must be 'pre' or 'post'"),
        ((SEQS,), {"truncating": "end"}, "truncating"),
        ((SEQS,), {"maxlen": -1}, "maxlen"),
        (([[1], 2],), {}, "position 1"),
        (([[[1, 1]], [[1, 1, 1]]],), {}, "sequence 1 have shape"),
    ],
)
def test_pad_sequences_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences(*args, **kwargs)


def test_skipgrams_positive_pairs_in_order():
    couples, labels = skipgrams([1, 2, 0, 3], 4, window_size=1, negative_samples=0, shuffle=False)
    # index 0 is "no word": neither a target nor a context
    assert couples == [[1, 2], [2, 1]]
    assert labels == [1, 1]
    couples, _ = skipgrams([1, 2, 3], 4, window_size=2, negative_samples=0, shuffle=False)
    assert couples == [[1, 2], [1, 3], [2, 1], [2, 3], [3, 1], [3, 2]]


def test_skipgrams_negative_samples_and_categorical_labels():
    random.seed(0)
    couples, labels = skipgrams(
        [1, 2, 3], 10, window_size=1, negative_samples=1.5, shuffle=False, categorical=True
    )
    assert couples[:4] == [[1, 2], [2, 1], [2, 3], [3, 2]]
    assert labels[:4] == [[0, 1]] * 4
    negatives = couples[4:]
    assert len(negatives) == 6 and labels[4:] == [[1, 0]] * 6
    assert all(word in (1, 2, 3) and 1 <= context <= 9 for word, context in negatives)
    labels[4][0] = 99  # each label is its own list
    assert labels[5] == [1, 0]


def test_skipgrams_shuffle_keeps_couples_with_their_labels():
    random.seed(3)
    plain = skipgrams([1, 2, 3, 4], 6, window_size=2, shuffle=False)
    random.seed(3)
    shuffled = skipgrams([1, 2, 3, 4], 6, window_size=2, shuffle=True)
    pairs = sorted((tuple(c), lab) for c, lab in zip(*plain, strict=True))
    assert sorted((tuple(c), lab) for c, lab in zip(*shuffled, strict=True)) == pairs


def test_skipgrams_sampling_table_drops_words_with_zero_probability():
    table = [0.0, 1.0, 0.0, 1.0]
    couples, _ = skipgrams([1, 2, 3, 2], 4, negative_samples=0, sampling_table=table)
    assert couples and all(word != 2 for word, _ in couples)


def test_skipgrams_bad_input():
    with pytest.raises(ValueError, match="skipgrams: vocabulary_size"):
        skipgrams([1, 2], 1)
    with pytest.raises(ValueError, match="skipgrams: window_size"):
        skipgrams([1, 2], 5, window_size=-1)


def test_make_sampling_table_hand_values():
    # rank 0 counts as rank 1: 1 * (ln 1 + 0.577) + 0.5 - 1/12 = 0.99366667
    # rank 2: 2 * (ln 2 + 0.577) + 0.5 - 1/24 = 2.99862769
    np.testing.assert_allclose(
        make_sampling_table(3), [0.00315224788, 0.00315224788, 0.00547597269], rtol=1e-8
    )
    # a large factor saturates at probability 1: sqrt(0.99366667) = 0.99682830
    np.testing.assert_allclose(make_sampling_table(3, 1.0), [0.9968283035, 0.9968283035, 1.0])
    assert make_sampling_table(0).shape == (0,)
    with pytest.raises(ValueError, match="make_sampling_table: size"):
        make_sampling_table(-2)
