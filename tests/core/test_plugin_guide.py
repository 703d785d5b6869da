"""What docs/plugins.md promises a plugin author: initializers, losses' ``y_true``, ``build``.

Each test pins one sentence of the guide, so the guide and the code cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.engine.topology import Layer
from lamella.layers import Dense, Input
from lamella.models import Model, Sequential


class Project(Layer):
    """``x @ W`` over the last axis, with ``W`` from the initializer the test gives."""

    def __init__(self, units, kernel_init, **kwargs):
        super().__init__(**kwargs)
        self.units, self.kernel_init = units, kernel_init
        self.shapes_seen = []

    def build(self, input_shape):
        self.shapes_seen.append(input_shape)
        self.W = self.add_weight((input_shape[-1], self.units), self.kernel_init, name="W")

    def call(self, x, mask=None):
        return x @ self.W

    def get_output_shape_for(self, input_shape):
        return (*input_shape[:-1], self.units)


KERNEL = np.arange(6).reshape(3, 2) / 4  # the values every initializer below returns


@pytest.mark.parametrize(
    "make",
    [
        lambda: KERNEL.copy(),  # float64
        lambda: (KERNEL * 4).astype("int64"),  # integers: cast to floatx
        lambda: torch.tensor(KERNEL, dtype=torch.float16),
        lambda: KERNEL.tolist(),
        lambda: torch.nn.Parameter(torch.tensor(KERNEL, dtype=torch.float32)),
    ],
    ids=["numpy-float64", "numpy-int64", "tensor-float16", "nested-list", "parameter"],
)
def test_an_add_weight_initializer_may_return_any_of_the_documented_values(make):
    names, returned = [], []

    def init(shape, name=None):
        names.append((shape, name))
        returned.append(make())
        return returned[-1]

    layer = Project(2, init, name="proj")
    model = Model(*_io(layer))
    assert names == [((3, 2), "proj_W")]  # a tuple of ints, and the weight's name
    weight = layer.W
    assert isinstance(weight, torch.nn.Parameter) and weight.dtype == torch.float32
    if isinstance(returned[0], torch.nn.Parameter):
        assert weight is returned[0]  # a Parameter of floatx is used as it is
    expected = np.asarray(torch.as_tensor(returned[0]).detach().float())
    np.testing.assert_array_equal(weight.detach().numpy(), expected)
    x = np.ones((4, 3), "float32")
    np.testing.assert_allclose(model.predict(x), x @ expected, rtol=1e-6)


def _io(layer):
    inputs = Input(shape=(3,))
    return inputs, layer(inputs)


def test_an_initializer_of_the_wrong_shape_or_without_name_is_refused():
    with pytest.raises(ValueError, match=r"Project proj: the initializer of proj_W returned"):
        _io(Project(2, lambda shape, name=None: np.zeros((2, 3)), name="proj"))
    with pytest.raises(TypeError, match=r"initializer of proj_W must accept \(shape, name"):
        _io(Project(2, lambda shape: np.zeros(shape), name="proj"))


@pytest.mark.parametrize("labels", ["int64", "bool", "float64", "float16"])
def test_a_loss_receives_y_true_as_floatx_whatever_the_labels_dtype(labels):
    rng = np.random.default_rng(0)
    x = rng.random((8, 3)).astype("float32")
    y = (rng.random((8, 2)) * 3).astype(labels)
    seen = []

    def spy_loss(y_true, y_pred):
        seen.append(y_true)
        return ((y_true - y_pred) ** 2).mean(-1)

    model = Sequential([Dense(2, input_dim=3)])
    model.compile(optimizer=torch.optim.SGD, loss=spy_loss, metrics=[spy_loss])
    model.fit(x, y, batch_size=8, nb_epoch=1, verbose=0, shuffle=False)
    model.train_on_batch(x, y)
    model.evaluate(x, y, batch_size=8, verbose=0)
    assert all(y_true.dtype == torch.float32 for y_true in seen)  # compile's probe included
    batches = [y_true for y_true in seen if len(y_true) == len(y)]
    assert len(batches) == 6  # each call: once as the loss, once as the metric
    for y_true in batches:
        assert y_true.device == model.device
        np.testing.assert_array_equal(y_true.cpu().numpy(), y.astype("float32"))


def test_y_true_of_a_single_output_arrives_as_a_column_and_follows_floatx():
    seen = []

    def spy_loss(y_true, y_pred):
        seen.append(y_true)
        return (y_true - y_pred).abs().mean(-1)

    saved = K.floatx()
    K.set_floatx("float64")
    try:
        model = Sequential([Dense(1, input_dim=3)])
        model.compile(optimizer=torch.optim.SGD, loss=spy_loss)
        model.train_on_batch(np.ones((5, 3)), np.arange(5))  # labels of shape (5,)
    finally:
        K.set_floatx(saved)
    assert seen[0].dtype == torch.float64 and tuple(seen[0].shape) == (5, 1)
    np.testing.assert_array_equal(seen[0].numpy()[:, 0], np.arange(5))


def test_build_gets_none_for_the_batch_and_every_unknown_dimension():
    layer = Project(2, lambda shape, name=None: KERNEL.copy())
    inputs = Input(shape=(None, 3))  # sequences of any length
    model = Model(inputs, layer(inputs))
    assert layer.shapes_seen == [(None, None, 3)]
    assert model.output_shape == (None, None, 2)
    for steps in (1, 5):  # call sees the real lengths
        x = np.random.default_rng(steps).random((2, steps, 3)).astype("float32")
        np.testing.assert_allclose(model.predict(x), x @ KERNEL, rtol=1e-6)


def test_a_weight_sized_by_an_unknown_dimension_is_refused_naming_the_layer():
    class ByLength(Project):
        def build(self, input_shape):  # wrongly sizes W by the (unknown) time axis
            self.W = self.add_weight((input_shape[1], self.units), "zero", name="W")

    with pytest.raises(ValueError) as caught:
        ByLength(2, "zero", name="by_length")(Input(shape=(None, 3)))
    message = str(caught.value)
    assert message.startswith("ByLength by_length: weight by_length_W needs a known shape")
    assert "(None, 2)" in message
