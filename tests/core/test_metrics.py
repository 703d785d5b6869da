"""Keras 1 metrics against numpy formulas."""

import numpy as np
import pytest
import torch

from lamella import losses, metrics

EPS = 1e-7
RNG = np.random.default_rng(7)


def tensors(*arrays):
    return [torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in arrays]


@pytest.mark.parametrize("shape", [(8, 3), (2, 4, 3)])
def test_binary_accuracy_rounds_half_to_even(shape):
    t = RNG.integers(0, 2, size=shape).astype(np.float32)
    p = RNG.choice([0.0, 0.2, 0.5, 0.51, 0.9, 1.0, 1.5], size=shape).astype(np.float32)
    out = metrics.binary_accuracy(*tensors(t, p))
    # 0.5 rounds to 0 and 1.5 to 2 (banker's rounding, as TF and Theano do); one scalar for
    # the batch, the mean over every sample and timestep, as Keras 1's metric returns.
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), np.mean(t == np.round(p)), rtol=1e-6)


def test_categorical_accuracy_compares_argmax_first_maximum_wins():
    t = np.eye(4)[[0, 1, 2, 3, 3]]
    p = np.array(
        [
            [0.7, 0.1, 0.1, 0.1],
            [0.5, 0.5, 0.0, 0.0],  # tie: first maximum (class 0) is predicted
            [0.0, 0.2, 0.8, 0.0],
            [0.3, 0.3, 0.1, 0.3],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    out = metrics.categorical_accuracy(*tensors(t, p))
    expected = (np.argmax(t, axis=-1) == np.argmax(p, axis=-1)).astype(float)
    np.testing.assert_array_equal(expected, [1, 0, 1, 0, 1])
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), 0.6, rtol=1e-6)


@pytest.mark.parametrize(
    ("pred_shape", "target_shape"), [((9, 5), (9,)), ((9, 5), (9, 1)), ((3, 2, 5), (3, 2, 1))]
)
def test_sparse_categorical_accuracy_matches_argmax(pred_shape, target_shape):
    p = RNG.uniform(size=pred_shape).astype(np.float32)
    index = RNG.integers(0, pred_shape[-1], size=pred_shape[:-1])
    index.flat[:2] = np.argmax(p, axis=-1).flat[:2]  # some hits for sure
    y_true = torch.from_numpy(index.reshape(target_shape).astype(np.float32))
    out = metrics.sparse_categorical_accuracy(y_true, torch.from_numpy(p))
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), np.mean(np.argmax(p, axis=-1) == index), rtol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, 6, 7])
def test_top_k_accuracy_matches_sorted_ranking(k):
    p = RNG.normal(size=(20, 6)).astype(np.float32)  # continuous: no ties
    target = RNG.integers(0, 6, size=20)
    out = metrics.top_k_categorical_accuracy(*tensors(np.eye(6)[target], p), k=k)
    top_k = np.argsort(-p, axis=-1)[:, :k]
    expected = [target[i] in top_k[i] for i in range(20)]
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), np.mean(expected), rtol=1e-6)


def test_top_k_accuracy_default_k_is_5_and_ties_count_as_hits():
    t, p = tensors(np.eye(7)[[6, 6]], [[1, 1, 1, 1, 1, 0.5, 0.5], [1, 1, 1, 1, 1, 1, 0.5]])
    # Row 0: five classes score higher than the target, row 1: six.
    assert metrics.top_k_categorical_accuracy(t, p).item() == 0.0
    t, p = tensors(np.eye(7)[[0, 5]], [[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 0]])
    assert metrics.top_k_categorical_accuracy(t, p).item() == 1.0


@pytest.mark.parametrize("k", [0, -1, 2.0, True])
def test_top_k_accuracy_rejects_bad_k(k):
    with pytest.raises(ValueError, match=r"top_k_categorical_accuracy: k must be an int >= 1"):
        metrics.top_k_categorical_accuracy(*tensors(np.eye(3), np.eye(3)), k=k)


def np_counts(t, p):
    """Confusion counts after Keras's clip-and-round of targets and predictions."""
    t = np.round(np.clip(t, 0, 1))
    p = np.round(np.clip(p, 0, 1))
    return (
        np.sum(t * p),
        np.sum((1 - t) * (1 - p)),
        np.sum((1 - t) * p),
        np.sum(t * (1 - p)),
    )


def np_precision(t, p):
    return np.sum(np.round(np.clip(t * p, 0, 1))) / (np.sum(np.round(np.clip(p, 0, 1))) + EPS)


def np_recall(t, p):
    return np.sum(np.round(np.clip(t * p, 0, 1))) / (np.sum(np.round(np.clip(t, 0, 1))) + EPS)


def np_fbeta(t, p, beta):
    precision, recall = np_precision(t, p), np_recall(t, p)
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall + EPS)


def np_matthews(t, p):
    tp, tn, fp, fn = np_counts(t, p)
    return (tp * tn - fp * fn) / (np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) + EPS)


BATCH_METRICS = [
    ("precision", np_precision),
    ("recall", np_recall),
    ("matthews_correlation", np_matthews),
    ("fmeasure", lambda t, p: np_fbeta(t, p, 1)),
    ("fbeta_score", lambda t, p: np_fbeta(t, p, 1)),
]


@pytest.mark.parametrize("shape", [(16, 3), (4, 5, 2)])
@pytest.mark.parametrize(("name", "reference"), BATCH_METRICS, ids=[n for n, _ in BATCH_METRICS])
def test_batch_metric_matches_numpy(name, reference, shape):
    t = RNG.integers(0, 2, size=shape).astype(np.float32)
    p = RNG.uniform(-0.2, 1.2, size=shape).astype(np.float32)
    out = getattr(metrics, name)(*tensors(t, p))
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), reference(t, p), rtol=1e-5)


@pytest.mark.parametrize("beta", [0, 0.5, 2])
def test_fbeta_score_beta_weights_recall(beta):
    t = np.array([[1, 1, 1, 1, 0, 0]], dtype=np.float32)
    p = np.array([[0.9, 0.8, 0.1, 0.2, 0.7, 0.1]], dtype=np.float32)  # precision 2/3, recall 1/2
    out = metrics.fbeta_score(*tensors(t, p), beta=beta)
    np.testing.assert_allclose(out.numpy(), np_fbeta(t, p, beta), rtol=1e-5)
    if beta == 0:
        np.testing.assert_allclose(out.numpy(), 2 / 3, rtol=1e-5)


def test_fbeta_score_is_zero_without_positive_targets():
    t, p = tensors(np.zeros((3, 2)), np.full((3, 2), 0.9))
    assert metrics.fbeta_score(t, p).item() == 0.0


def test_fbeta_score_rejects_negative_beta():
    with pytest.raises(ValueError, match=r"fbeta_score: beta must be >= 0, got -1"):
        metrics.fbeta_score(*tensors(np.ones((2, 2)), np.ones((2, 2))), beta=-1)


def test_perfect_predictions_score_one():
    t = RNG.integers(0, 2, size=(10, 4)).astype(np.float32)
    t[0] = [1, 0, 1, 0]
    for name in ("precision", "recall", "fmeasure", "matthews_correlation"):
        value = getattr(metrics, name)(*tensors(t, t)).item()
        assert value == pytest.approx(1.0, abs=1e-5), name


def test_accuracies_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"binary_accuracy: .*same shape"):
        metrics.binary_accuracy(torch.zeros(4), torch.zeros(4, 1))


@pytest.mark.parametrize("name", sorted(losses.BUILTINS))
def test_every_loss_is_a_metric_of_its_batch_mean(name):
    """Keras 1's metrics module has each loss as a scalar: the mean over the batch."""
    shape = (6, 4)
    if name == "sparse_categorical_crossentropy":
        p = RNG.dirichlet(np.ones(4), size=6).astype(np.float32)
        t = RNG.integers(0, 4, size=(6, 1)).astype(np.float32)
    else:
        p = RNG.uniform(0.05, 0.95, size=shape).astype(np.float32)
        t = RNG.integers(0, 2, size=shape).astype(np.float32)
    loss, metric = getattr(losses, name), getattr(metrics, name)
    out = metric(*tensors(t, p))
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), loss(*tensors(t, p)).numpy().mean(), rtol=1e-6)
    assert metric.__name__ == name
    assert metrics.BUILTINS[name] == losses.BUILTINS[name]
    for alias in losses.BUILTINS[name]:
        assert getattr(metrics, alias) is metric
        assert metrics.get(alias) is metric


def test_squared_error_metric_is_the_mean_over_every_cell():
    t, p = tensors([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], [[0.5, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert metrics.mse(t, p).item() == pytest.approx((0.25 + 1 + 1) / 6)


def test_fmeasure_aliases():
    assert metrics.BUILTINS["fmeasure"] == ("fscore", "f1score")
    assert metrics.fscore is metrics.f1score is metrics.fmeasure
