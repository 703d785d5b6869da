"""Sequential cases from Keras 1.2.2's own tests: ``build()`` with no argument, and a
Merge whose two branches are the same Sequential model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.layers import Activation, Dense, Merge
from lamella.models import Sequential, model_from_json, model_from_yaml


def test_build_takes_no_argument():
    model = Sequential([Dense(2, input_dim=3)])
    model.build()
    model.build((None, 3))
    assert model.built
    assert model.predict(np.ones((1, 3), "float32")).shape == (1, 2)


def test_build_of_an_empty_model_says_so():
    with pytest.raises(TypeError, match=r"Sequential.build: model sequential_1 is empty"):
        Sequential().build()


def overlap():
    """Keras 1.2.2's test_merge_overlap: the same branch on both sides of a Merge."""
    torch.manual_seed(0)
    left = Sequential([Dense(5, input_shape=(4,)), Activation("relu")])
    model = Sequential([Merge([left, left], mode="sum"), Dense(3), Activation("softmax")])
    return left, model


def reference(weights, x):
    """The same network in numpy: both branches are one set of weights, summed."""
    w1, b1, w2, b2 = weights
    hidden = np.maximum(x @ w1 + b1, 0.0)
    logits = (hidden + hidden) @ w2 + b2
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_merge_of_one_branch_twice_trains_one_set_of_weights():
    left, model = overlap()
    assert len(model.inputs) == 1
    assert [w.shape for w in model.get_weights()] == [(4, 5), (5,), (5, 3), (3,)]
    assert len(model.trainable_weights) == 4
    x = np.random.default_rng(0).standard_normal((6, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]
    model.compile(optimizer=torch.optim.Adam, loss="categorical_crossentropy")
    model.fit(x, y, batch_size=3, nb_epoch=1, verbose=0)
    model.train_on_batch(x[:3], y[:3])
    np.testing.assert_allclose(model.predict(x), reference(model.get_weights(), x), rtol=1e-5)
    np.testing.assert_array_equal(left.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize(
    "rebuild",
    [
        lambda model: Sequential.from_config(model.get_config()),
        lambda model: model_from_json(model.to_json()),
        lambda model: model_from_yaml(model.to_yaml()),
    ],
    ids=["config", "json", "yaml"],
)
def test_merge_of_one_branch_twice_round_trips(rebuild):
    _, model = overlap()
    copy = rebuild(model)
    merge = copy.layers[0]
    assert merge.branches[0] is merge.branches[1]
    assert [w.shape for w in copy.get_weights()] == [w.shape for w in model.get_weights()]
    copy.set_weights(model.get_weights())
    x = np.random.default_rng(1).standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(copy.predict(x), reference(model.get_weights(), x), rtol=1e-5)
