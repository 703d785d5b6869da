"""Keras 1's module-level helpers of ``engine.training`` on numpy arrays."""

import time

import numpy as np
import pytest
import torch

from lamella.engine import training
from lamella.losses import binary_crossentropy, categorical_crossentropy, mean_squared_error

RNG = np.random.default_rng(3)


def test_they_are_importable_from_engine_training():
    from lamella.engine.training import make_batches, slice_X  # as Keras's examples do

    assert make_batches(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert slice_X is training.slice_X


def test_make_batches_covers_every_sample_once():
    assert training.make_batches(10, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert training.make_batches(6, 3) == [(0, 3), (3, 6)]
    assert training.make_batches(0, 3) == []
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        training.make_batches(10, 0)


def test_slice_x_takes_ranges_and_index_lists_of_arrays_and_lists():
    a, b = np.arange(10), np.arange(20).reshape(10, 2)
    np.testing.assert_array_equal(training.slice_X(a, 2, 5), [2, 3, 4])
    np.testing.assert_array_equal(training.slice_X(a, 7), [7, 8, 9])
    first, second = training.slice_X([a, b], np.array([4, 0]))
    np.testing.assert_array_equal(first, [4, 0])
    np.testing.assert_array_equal(second, [[8, 9], [0, 1]])
    np.testing.assert_array_equal(training.slice_X(b, [1])[0], [2, 3])


def test_batch_shuffle_moves_whole_batches_and_keeps_the_last_partial_one_last():
    np.random.seed(0)
    shuffled = training.batch_shuffle(np.arange(11), 3)
    assert sorted(shuffled) == list(range(11))
    np.testing.assert_array_equal(shuffled[9:], [9, 10])
    blocks = shuffled[:9].reshape(3, 3)
    assert all((block - block[0] == [0, 1, 2]).all() and block[0] % 3 == 0 for block in blocks)
    orders = {tuple(training.batch_shuffle(np.arange(12), 3)[::3]) for _ in range(20)}
    assert len(orders) > 1


def test_standardize_input_data_from_arrays_lists_and_dicts():
    a, b = np.ones((4, 3)), np.zeros(4)
    out = training.standardize_input_data({"x": a, "y": b}, ["y", "x"], [(None, 1), (None, 3)])
    assert [o.shape for o in out] == [(4, 1), (4, 3)]  # 1D becomes a column
    assert training.standardize_input_data(a, ["x"])[0] is a
    plain = training.standardize_input_data([[1, 2], [3, 4]], ["x"])
    np.testing.assert_array_equal(plain[0], [[1, 2], [3, 4]])
    pair = training.standardize_input_data([[1, 2], [3, 4]], ["x", "y"])
    np.testing.assert_array_equal(pair[1], [[3], [4]])
    checked = training.standardize_input_data(a, ["x"], [(2, 3)], check_batch_axis=False)
    assert checked[0] is a


@pytest.mark.parametrize(
    ("data", "names", "shapes", "error", "text"),
    [
        ({"x": np.ones(3)}, ["x", "y"], None, ValueError, r"no data provided for \['y'\]"),
        ([np.ones(3)], ["x", "y"], None, ValueError, "expected a list of 2 arrays"),
        ([1, 2, 3], ["x", "y"], None, ValueError, "expects a list of 2 arrays"),
        ("text", ["x"], None, TypeError, "must be a numpy array"),
        (np.ones(3), ["x", "y"], None, ValueError, "expects 2 arrays"),
        (np.ones((3, 2)), ["x"], [(None, 2, 1)], ValueError, "to have 3 dimensions"),
        (np.ones((3, 2)), ["x"], [(None, 5)], ValueError, r"to have shape \(None, 5\)"),
        (np.ones((3, 2)), ["x"], [(4, 2)], ValueError, "input: expected x"),
    ],
)
def test_standardize_input_data_errors(data, names, shapes, error, text):
    with pytest.raises(error, match=text):
        training.standardize_input_data(data, names, shapes, exception_prefix="input")


def test_standardize_sample_and_class_weights_give_one_entry_per_output():
    w = np.ones(3)
    assert training.standardize_sample_weights(None, ["a", "b"]) == [None, None]
    assert training.standardize_sample_weights(w, ["a"])[0] is w
    assert training.standardize_sample_weights({"a": w}, ["a"])[0] is w
    assert training.standardize_class_weights({0: 1.0, 1: 2.0}, ["a"]) == [{0: 1.0, 1: 2.0}]
    assert training.standardize_sample_weights({"b": w}, ["a", "b"]) == [None, w]
    with pytest.raises(ValueError, match="sample_weight is a list of 1 entries"):
        training.standardize_sample_weights([w], ["a", "b"])
    with pytest.raises(TypeError, match="class_weight must be a list or a dict"):
        training.standardize_class_weights(w, ["a", "b"])


def test_check_array_lengths():
    ones = np.ones
    training.check_array_lengths([ones(3)], [ones(3), ones((3, 2))], [ones(3), None])
    for inputs, targets, weights, text in [
        ([ones(3), ones(4)], [ones(3)], [], "All input arrays"),
        ([ones(3)], [ones(3), ones(2)], [], "All target arrays"),
        ([ones(3)], [ones(3)], [ones(3), ones(1)], "All sample_weight arrays"),
        ([ones(3)], [ones(4)], [], "3 input samples and 4 target samples"),
        ([ones(3)], [ones(3)], [ones(2)], "3 input samples and 2 sample weights"),
    ]:
        with pytest.raises(ValueError, match=text):
            training.check_array_lengths(inputs, targets, weights)


def test_check_loss_and_target_compatibility():
    training.check_loss_and_target_compatibility(
        [np.ones((4, 3))], [categorical_crossentropy], [(None, 3)]
    )
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        training.check_loss_and_target_compatibility(
            [np.ones((4, 1))], [categorical_crossentropy], [(None, 3)]
        )
    for loss in (mean_squared_error, binary_crossentropy, "mean_squared_error"):
        with pytest.raises(ValueError, match=r"output of shape \(None, 2\)"):
            training.check_loss_and_target_compatibility([np.ones((4, 3))], [loss], [(None, 2)])


def test_collect_metrics():
    assert training.collect_metrics(None, ["a", "b"]) == [[], []]
    nested = training.collect_metrics(["acc"], ["a", "b"])
    assert nested == [["acc"], ["acc"]] and nested[0] is not nested[1]
    assert training.collect_metrics({"b": "acc"}, ["a", "b"]) == [[], ["acc"]]
    with pytest.raises(TypeError, match="metrics must be a list or a dict"):
        training.collect_metrics("acc", ["a"])


def test_weighted_objective_applies_mask_and_weights_as_keras():
    y_true = RNG.normal(size=(4, 5, 3))
    y_pred = RNG.normal(size=(4, 5, 3))
    mask = np.array([[1, 1, 0, 0, 1]] * 4, dtype=float)
    weights = np.array([1.0, 0.0, 2.0, 0.5])
    weighted = training.weighted_objective(mean_squared_error)
    got = weighted(*map(torch.from_numpy, (y_true, y_pred, weights, mask)))
    score = ((y_true - y_pred) ** 2).mean(-1) * mask / mask.mean()  # (4, 5)
    score = score.mean(-1) * weights / (weights != 0).mean()
    np.testing.assert_allclose(got.item(), score.mean(), rtol=1e-10)
    unweighted = weighted(torch.from_numpy(y_true), torch.from_numpy(y_pred), None)
    np.testing.assert_allclose(unweighted.item(), ((y_true - y_pred) ** 2).mean(), rtol=1e-10)


def test_standardize_weights():
    y = np.eye(3)[[0, 2, 2, 1]]
    np.testing.assert_array_equal(
        training.standardize_weights(y, class_weight={0: 1.0, 1: 5.0, 2: 0.5}), [1, 0.5, 0.5, 5]
    )
    np.testing.assert_array_equal(
        training.standardize_weights(np.array([[1], [0]]), class_weight={0: 3, 1: 4}), [4, 3]
    )
    sample = np.array([1.0, 2.0, 3.0, 4.0])
    assert training.standardize_weights(y, sample, {0: 9}) is sample
    ones = training.standardize_weights(y)
    assert ones.dtype == np.float32 and ones.tolist() == [1, 1, 1, 1]
    assert training.standardize_weights(
        np.ones((2, 5, 3)), sample_weight_mode="temporal"
    ).shape == (
        2,
        5,
    )
    for kwargs, text in [
        ({"sample_weight_mode": "samples"}, "must be None or 'temporal'"),
        ({"sample_weight_mode": "temporal"}, "needs targets with a time axis"),
        ({"sample_weight": np.ones((4, 1))}, "sample_weight must be 1D"),
        ({"sample_weight": np.ones(3)}, "does not match the first axes"),
        ({"class_weight": {0: 1.0}}, r"no weight for the classes \[1, 2\]"),
    ]:
        with pytest.raises(ValueError, match=text):
            training.standardize_weights(y, **kwargs)


def _take(enqueuer, count, timeout=5.0):
    items, deadline = [], time.monotonic() + timeout
    while len(items) < count and time.monotonic() < deadline:
        if not enqueuer.queue.empty():
            items.append(enqueuer.queue.get())
        else:
            time.sleep(0.01)
    return items


def test_generator_enqueuer_fills_its_queue_from_threads_and_stops():
    enqueuer = training.GeneratorEnqueuer(iter(range(1000)))
    enqueuer.start(nb_worker=3, max_q_size=4)
    assert enqueuer.is_running()
    items = _take(enqueuer, 50)
    assert len(items) == 50 and len(set(items)) == 50  # shared under a lock: no duplicates
    time.sleep(0.1)
    assert enqueuer.queue.qsize() <= 4 + 3  # each worker adds at most one past the limit
    enqueuer.stop(timeout=2)
    assert not enqueuer.is_running() and enqueuer.queue is None


def test_generator_enqueuer_stops_running_when_the_generator_ends():
    enqueuer = training.GeneratorEnqueuer(iter(range(5)))
    enqueuer.start()
    assert sorted(_take(enqueuer, 5)) == [0, 1, 2, 3, 4]
    deadline = time.monotonic() + 5
    while enqueuer.is_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not enqueuer.is_running()
    enqueuer.stop()
