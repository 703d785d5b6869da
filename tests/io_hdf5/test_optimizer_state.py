"""The optimizer state of a layer whose Keras weights are views of one fused Parameter is
saved per Keras weight, in the sorted order of the Keras names, and loaded back into the
fused state.  A layer and an optimizer written here stand in for lamella's recurrent
layers and Keras optimizers, so this runs with only lamella-core and lamella-io-hdf5."""

from __future__ import annotations

import h5py
import numpy as np
import torch

from lamella.engine import Layer
from lamella.engine.optimizer import Optimizer
from lamella.layers import Dense
from lamella.models import Sequential, load_model

UNITS, IN = 3, 4
RNG = np.random.default_rng(2)
X = RNG.normal(size=(16, IN)).astype("float32")
Y = RNG.normal(size=(16, 1)).astype("float32")


class Fused(Layer):
    """``x·A`` and ``x·B`` side by side, from one Parameter ``kernel (2n, in)`` whose row
    blocks, transposed, are the Keras weights ``A`` and ``B`` (as an RNN's gates)."""

    def __init__(self, units: int = UNITS, **kwargs):
        self.units = units
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight((2 * self.units, input_shape[-1]), "normal", name="kernel")

    @property
    def weights(self):
        if not self.built:
            return []
        views = [self.kernel[: self.units].t(), self.kernel[self.units :].t()]
        for suffix, view in zip("AB", views, strict=True):
            view._keras_name = f"{self.name}_{suffix}"
        return views

    def call(self, x, mask=None):
        return x @ self.kernel.t()

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], 2 * self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Momentum(Optimizer):
    """``v = 0.9 v + g; p -= lr * v``: one slot, ``velocity``, after ``iterations``."""

    slot_names = ("velocity",)

    def __init__(self, lr: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.lr = lr

    def build(self):
        self.velocity = [torch.zeros_like(p) for p in self.params]

    def apply_updates(self, params, grads):
        for p, g, v in zip(params, grads, self.velocity, strict=True):
            v.mul_(0.9).add_(g)
            p.sub_(float(self.lr) * v)
        self.iterations.add_(1)

    @property
    def weights(self):
        return [self.iterations, *self.velocity]

    def get_config(self):
        return {"lr": float(self.lr), **super().get_config()}


CUSTOM = {"Fused": Fused, "Momentum": Momentum}


def trained() -> Sequential:
    torch.manual_seed(0)
    model = Sequential([Fused(input_shape=(IN,)), Dense(1)])
    model.compile(Momentum(), "mse")
    model.fit(X, Y, nb_epoch=3, batch_size=8, shuffle=False, verbose=0)
    return model


def test_state_is_saved_per_view_in_sorted_keras_order(tmp_path):
    model = trained()
    path = tmp_path / "fused.h5"
    model.save(str(path))
    optimizer = model.optimizer
    velocity = {id(p): v.numpy() for p, v in zip(optimizer.params, optimizer.velocity, strict=True)}
    fused = velocity[id(model.layers[0].kernel)]
    dense = model.layers[1]

    with h5py.File(path, "r") as f:
        group = f["optimizer_weights"]
        names = [n.decode() for n in group.attrs["weight_names"]]
        state = {n: group[n][()] for n in names}
    assert names == ["iterations", "velocity_dense_1_W", "velocity_dense_1_b",
                     "velocity_fused_1_A", "velocity_fused_1_B"]  # fmt: skip
    assert state["iterations"] == 6
    np.testing.assert_array_equal(state["velocity_fused_1_A"], fused[:UNITS].T)
    np.testing.assert_array_equal(state["velocity_fused_1_B"], fused[UNITS:].T)
    np.testing.assert_array_equal(state["velocity_dense_1_W"], velocity[id(dense.W)])


def test_loading_puts_the_views_state_back_into_the_fused_state(tmp_path):
    model = trained()
    path = tmp_path / "fused.h5"
    model.save(str(path))
    resumed = load_model(str(path), custom_objects=CUSTOM)
    for a, b in zip(model.optimizer.get_weights(), resumed.optimizer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for m in (model, resumed):
        m.fit(X, Y, nb_epoch=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_array_equal(resumed.predict(X), model.predict(X))


def test_a_hand_written_keras_order_state_is_read_into_the_fused_layout(tmp_path):
    """The reader does not depend on how lamella names the arrays: Keras's TensorFlow
    names (``Variable_<k>:0``) in Keras's order load the same."""
    model = trained()
    path = tmp_path / "fused.h5"
    model.save(str(path))
    a, b = RNG.normal(size=(IN, UNITS)), RNG.normal(size=(IN, UNITS))
    w, bias = RNG.normal(size=(2 * UNITS, 1)), RNG.normal(size=(1,))
    values = [np.float32(9), w, bias, a, b]  # dense_1_W, dense_1_b, fused_1_A, fused_1_B
    with h5py.File(path, "r+") as f:
        del f["optimizer_weights"]
        group = f.create_group("optimizer_weights")
        names = [f"Variable_{k}:0" for k in range(len(values))]
        group.attrs["weight_names"] = np.array([n.encode() for n in names])
        for name, value in zip(names, values, strict=True):
            group.create_dataset(name, data=np.asarray(value, dtype="float32"))
    resumed = load_model(str(path), custom_objects=CUSTOM)
    state = {id(p): v for p, v in zip(resumed.optimizer.params, resumed.optimizer.velocity,
                                        strict=True)}  # fmt: skip
    kernel = state[id(resumed.layers[0].kernel)].numpy()
    np.testing.assert_allclose(kernel, np.concatenate([a.T, b.T]), rtol=1e-6)
    np.testing.assert_allclose(state[id(resumed.layers[1].W)].numpy(), w, rtol=1e-6)
    assert float(resumed.optimizer.iterations) == 9
