"""K.ctc_batch_cost, K.ctc_decode and K.ctc_label_dense_to_sparse against numpy: the CTC
forward algorithm, an argmax-and-collapse loop and a sum over every alignment."""

import itertools
import math

import numpy as np
import pytest
import torch

from lamella import backend as K

FLOOR = 1e-8  # Keras reads y_pred as log(y_pred + 1e-8)


def softmax_batch(batch, steps, classes, seed=0):
    logits = np.random.default_rng(seed).standard_normal((batch, steps, classes)) * 2
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_ctc_nll(probs, labels):
    """-log p(labels | probs) by the CTC forward recursion; the blank is the last class."""
    log_probs = np.log(probs + FLOOR)
    blank = probs.shape[1] - 1
    extended = [blank]
    for label in labels:
        extended += [label, blank]
    alpha = np.full(len(extended), -np.inf)
    alpha[0] = log_probs[0, blank]
    if labels:
        alpha[1] = log_probs[0, extended[1]]
    for t in range(1, len(probs)):
        previous = alpha.copy()
        for s, label in enumerate(extended):
            terms = [previous[s]]
            if s >= 1:
                terms.append(previous[s - 1])
            if s >= 2 and label != blank and label != extended[s - 2]:
                terms.append(previous[s - 2])
            alpha[s] = np.logaddexp.reduce(terms) + log_probs[t, label]
    return -np.logaddexp.reduce(alpha[-2:] if labels else alpha[-1:])


def test_ctc_batch_cost_matches_the_forward_algorithm():
    y_pred = softmax_batch(3, 6, 4)
    y_true = np.array([[0, 1, 1], [2, -1, -1], [1, 0, 2]], dtype=np.float32)  # padding ignored
    input_length = np.array([[6], [4], [5]])
    label_length = np.array([[3], [1], [2]])
    cost = K.ctc_batch_cost(
        torch.tensor(y_true), torch.tensor(y_pred), torch.tensor(input_length), label_length
    )
    expected = [
        np_ctc_nll(
            y_pred[b, : input_length[b, 0]], list(y_true[b, : label_length[b, 0]].astype(int))
        )
        for b in range(3)
    ]
    assert cost.shape == (3, 1)
    np.testing.assert_allclose(cost.numpy()[:, 0], expected, rtol=1e-10)


def test_an_empty_label_costs_the_all_blank_path_and_an_impossible_one_is_inf():
    y_pred = softmax_batch(2, 3, 3)
    cost = K.ctc_batch_cost(
        torch.tensor([[0, 0, 0, 0], [0, 1, 0, 1]]),  # 2nd: 4 labels, 2 repeats, need 6 steps
        torch.tensor(y_pred),
        torch.tensor([[3], [3]]),
        torch.tensor([[0], [4]]),
    )
    np.testing.assert_allclose(
        cost[0, 0].item(), -np.log(y_pred[0, :, 2] + FLOOR).sum(), rtol=1e-10
    )
    assert cost[1, 0].item() == math.inf


def test_ctc_batch_cost_gradients_are_exact_for_any_probabilities():
    """Also for rows that do not sum to 1 (torch's own CTC gradient assumes they do)."""
    y_pred = torch.tensor(np.random.default_rng(1).uniform(0.1, 1.0, (2, 5, 4)), requires_grad=True)
    labels = torch.tensor([[0, 2], [1, 1]])

    def cost(y):
        return K.ctc_batch_cost(labels, y, torch.tensor([[5], [4]]), torch.tensor([[2], [2]]))

    assert torch.autograd.gradcheck(cost, (y_pred,))
    logits = torch.tensor(np.random.default_rng(2).standard_normal((2, 5, 4)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: cost(torch.softmax(z, dim=-1)), (logits,))


def test_ctc_batch_cost_refuses_the_blank_as_a_label():
    with pytest.raises(
        ValueError, match=r"ctc_batch_cost: labels must be classes 0 to 2 .* got \[3\]"
    ):
        K.ctc_batch_cost(
            torch.tensor([[0, 3]]),
            torch.ones(1, 4, 4) / 4,
            torch.tensor([[4]]),
            torch.tensor([[2]]),
        )
    with pytest.raises(ValueError, match=r"ctc_batch_cost: input_length must lie in \[0, 4\]"):
        K.ctc_batch_cost(
            torch.tensor([[0, 1]]),
            torch.ones(1, 4, 4) / 4,
            torch.tensor([[5]]),
            torch.tensor([[2]]),
        )


# --------------------------------------------------------------------------------------------
# decoding


def np_greedy(probs, length):
    best = np.argmax(probs[:length], axis=1)
    blank = probs.shape[1] - 1
    labels = [int(c) for i, c in enumerate(best) if c != blank and (i == 0 or c != best[i - 1])]
    return labels, -np.log(probs[np.arange(length), best] + FLOOR).sum()


def test_greedy_decode_is_argmax_then_collapse():
    y_pred = softmax_batch(4, 8, 3, seed=3)
    y_pred[0, 2:4] = [0.1, 0.1, 0.8]  # blank between two runs of the same label: kept twice
    y_pred[0, 1] = y_pred[0, 4] = [0.7, 0.2, 0.1]
    lengths = np.array([8, 5, 1, 0])
    decoded, scores = K.ctc_decode(torch.tensor(y_pred), torch.tensor(lengths))
    expected = [np_greedy(y_pred[b], lengths[b]) for b in range(4)]
    width = max(len(labels) for labels, _ in expected)
    rows = [labels + [-1] * (width - len(labels)) for labels, _ in expected]
    assert len(decoded) == 1 and decoded[0].dtype == torch.int64
    np.testing.assert_array_equal(decoded[0].numpy(), np.array(rows).reshape(4, width))
    np.testing.assert_allclose(scores.numpy(), [[score] for _, score in expected], rtol=1e-12)


def brute_force(probs, top):
    """Every alignment's probability, summed per labelling: the exact best labellings."""
    blank = probs.shape[1] - 1
    totals = {}
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        labels = tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1]))
        p = np.prod((probs + FLOOR)[np.arange(len(probs)), list(path)])
        totals[labels] = totals.get(labels, 0.0) + p
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


def test_beam_search_finds_the_most_probable_labellings():
    y_pred = softmax_batch(2, 5, 3, seed=4)
    decoded, scores = K.ctc_decode(
        torch.tensor(y_pred), torch.tensor([5, 4]), greedy=False, beam_width=100, top_paths=3
    )
    assert len(decoded) == 3 and scores.shape == (2, 3)
    for b, length in enumerate([5, 4]):
        for k, (labels, p) in enumerate(brute_force(y_pred[b, :length], 3)):
            row = decoded[k][b].tolist()
            assert row[: len(labels)] == list(labels) and set(row[len(labels) :]) <= {-1}
            np.testing.assert_allclose(scores[b, k].item(), np.log(p), rtol=1e-10)


def test_beam_search_beats_greedy_where_the_best_path_is_not_the_best_labelling():
    """Two steps: the single likeliest path is blank-blank (empty), but the paths giving
    the label 0 have more probability in total."""
    y_pred = np.array([[[0.35, 0.0, 0.65], [0.35, 0.0, 0.65]]])
    greedy, _ = K.ctc_decode(torch.tensor(y_pred), torch.tensor([2]))
    beam, scores = K.ctc_decode(torch.tensor(y_pred), torch.tensor([2]), greedy=False, beam_width=2)
    assert greedy[0].shape == (1, 0)
    assert beam[0].tolist() == [[0]]
    np.testing.assert_allclose(scores.item(), np.log(0.35 * 0.35 + 2 * 0.35 * 0.65), rtol=1e-6)


def test_ctc_label_dense_to_sparse_keeps_each_rows_first_labels():
    labels = torch.tensor([[1, 2, 3], [4, 5, 6]])
    sparse = K.ctc_label_dense_to_sparse(labels, torch.tensor([2, 0]))
    assert K.is_sparse(sparse) and sparse.shape == (2, 3)
    assert sparse.coalesce().indices().t().tolist() == [[0, 0], [0, 1]]
    assert K.to_dense(sparse).tolist() == [[1, 2, 0], [0, 0, 0]]


def test_16_bit_predictions_are_costed_in_float32():
    """In float16 the 1e-8 floor rounds away: a label of probability 0 would cost inf, not
    Keras's finite -log(1e-8) per step."""
    y_pred = softmax_batch(1, 4, 3, seed=5)
    y_pred[0, :, 0] = 0.0
    args = (torch.tensor([[0]]), torch.tensor(y_pred), torch.tensor([[4]]), torch.tensor([[1]]))
    expected = K.ctc_batch_cost(*args)
    half = K.ctc_batch_cost(args[0], args[1].half(), *args[2:])
    assert half.dtype == torch.float32 and torch.isfinite(expected).all()
    np.testing.assert_allclose(half.numpy(), expected.numpy(), rtol=1e-3)
