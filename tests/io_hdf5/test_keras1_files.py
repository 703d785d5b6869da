"""Files in Keras 1.2.2's layout, written here with h5py alone as
Keras 1 did, load and predict what numpy computes from the stored arrays."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from lamella.layers.core import Dense
from lamella.models import Sequential, load_model

RNG = np.random.default_rng(1)
W = RNG.normal(size=(3, 2)).astype("float32")
B = RNG.normal(size=(2,)).astype("float32")
X = RNG.normal(size=(7, 3)).astype("float32")

#: Keras 1.2.2's config of Dense(2, input_dim=3), every argument as Keras 1 wrote it.
DENSE = {
    "name": "dense_1",
    "trainable": True,
    "batch_input_shape": [None, 3],
    "input_dtype": "float32",
    "output_dim": 2,
    "init": "glorot_uniform",
    "activation": "linear",
    "W_regularizer": None,
    "b_regularizer": None,
    "activity_regularizer": None,
    "W_constraint": None,
    "b_constraint": None,
    "bias": True,
    "input_dim": 3,
}
SEQUENTIAL = {
    "class_name": "Sequential",
    "config": [
        {"class_name": "Dense", "config": DENSE},
        {"class_name": "Activation", "config": {"name": "activation_1", "trainable": True,
                                                "activation": "softmax"}},
    ],
}  # fmt: skip
FUNCTIONAL = {
    "class_name": "Model",
    "config": {
        "name": "model_1",
        "layers": [
            {
                "name": "input_1",
                "class_name": "InputLayer",
                "config": {"batch_input_shape": [None, 3], "input_dtype": "float32",
                           "sparse": False, "name": "input_1"},
                "inbound_nodes": [],
            },
            {
                "name": "dense_1",
                "class_name": "Dense",
                "config": {k: v for k, v in DENSE.items() if k != "batch_input_shape"},
                "inbound_nodes": [[["input_1", 0, 0]]],
            },
        ],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["dense_1", 0, 0]],
    },
}  # fmt: skip


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def write_layers(group: h5py.Group, layers: list[tuple[str, list[str], list[np.ndarray]]]):
    """Keras 1.2.2's save_weights_to_hdf5_group: lists of bytes become attributes (an empty
    list becomes an empty float array, as h5py made of Keras 1's ``[]``)."""
    group.attrs["layer_names"] = np.array([name.encode() for name, _, _ in layers])
    for name, weight_names, arrays in layers:
        layer = group.create_group(name)
        layer.attrs["weight_names"] = np.array([n.encode() for n in weight_names])
        for weight_name, array in zip(weight_names, arrays, strict=True):
            layer.create_dataset(weight_name, data=array)


def keras1_model_file(path, config, layers, training=None, optimizer_state=()):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["model_config"] = json.dumps(config).encode("utf-8")
        if training is not None:
            f.attrs["training_config"] = json.dumps(training).encode("utf-8")
        write_layers(f.create_group("model_weights"), layers)
        if optimizer_state:
            group = f.create_group("optimizer_weights")
            names = [f"param_{i}" for i in range(len(optimizer_state))]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, value in zip(names, optimizer_state, strict=True):
                group.create_dataset(name, data=value)


@pytest.mark.parametrize("suffix", ["", ":0"], ids=["theano-names", "tf-names"])
def test_a_keras1_sequential_file_loads_and_predicts(tmp_path, suffix):
    path = tmp_path / "keras1.h5"
    names = [f"dense_1_W{suffix}", f"dense_1_b{suffix}"]
    keras1_model_file(path, SEQUENTIAL, [("dense_1", names, [W, B]), ("activation_1", [], [])])
    with h5py.File(path, "r") as f:  # the empty list really is a float array here
        assert f["model_weights/activation_1"].attrs["weight_names"].dtype == np.float64
    model = load_model(str(path), compile=False)
    np.testing.assert_allclose(model.predict(X), softmax(X @ W + B), rtol=1e-5, atol=1e-6)


def test_a_keras1_functional_file_with_an_input_layer_group_loads(tmp_path):
    path = tmp_path / "keras1.h5"
    keras1_model_file(
        path,
        FUNCTIONAL,
        [("input_1", [], []), ("dense_1", ["dense_1_W:0", "dense_1_b:0"], [W, B])],
    )
    model = load_model(str(path), compile=False)
    assert [layer.name for layer in model.layers] == ["input_1", "dense_1"]
    np.testing.assert_allclose(model.predict(X), X @ W + B, rtol=1e-5, atol=1e-6)


def test_weights_are_matched_by_name_before_position(tmp_path):
    """A group listing b before W still gives W to W (names decide where they agree)."""
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        write_layers(f, [("dense_7", ["dense_7_b", "dense_7_W"], [B, W])])
    model = Sequential([Dense(2, input_dim=3)])
    model.load_weights(str(path))
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], W)
    np.testing.assert_array_equal(model.layers[0].get_weights()[1], B)


def test_unrecognised_names_fall_back_to_position(tmp_path):
    """Keras 2 names ('dense_1/kernel:0', nested one group deeper) load by position."""
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        write_layers(f, [("dense_1", ["dense_1/kernel:0", "dense_1/bias:0"], [W, B])])
        assert isinstance(f["dense_1/dense_1"], h5py.Group)
    model = Sequential([Dense(2, input_dim=3)])
    model.load_weights(str(path))
    np.testing.assert_allclose(model.predict(X), X @ W + B, rtol=1e-5, atol=1e-6)


KERAS1_ADAM = {
    "optimizer_config": {
        "class_name": "Adam",
        "config": {"lr": 0.0010000000474974513, "beta_1": 0.8999999761581421,
                   "beta_2": 0.9990000128746033, "decay": 0.0, "epsilon": 1e-08},
    },
    "loss": "categorical_crossentropy",
    "metrics": ["accuracy"],
    "sample_weight_mode": None,
    "loss_weights": None,
}  # fmt: skip


def test_a_keras1_training_config_and_adam_state_are_restored(tmp_path):
    pytest.importorskip("lamella.optim")
    path = tmp_path / "keras1.h5"
    # Keras 1's Adam state (§2.4): iterations, then m for W and b, then v for W and b
    state = [
        np.float32(5.0),
        *(RNG.normal(size=s).astype("float32") for s in [(3, 2), (2,)]),
        *(RNG.uniform(size=s).astype("float32") for s in [(3, 2), (2,)]),
    ]
    keras1_model_file(
        path,
        SEQUENTIAL,
        [("dense_1", ["dense_1_W", "dense_1_b"], [W, B]), ("activation_1", [], [])],
        training=KERAS1_ADAM,
        optimizer_state=state,
    )
    model = load_model(str(path))
    assert type(model.optimizer).__name__ == "Adam"
    assert (model.loss, model.metrics) == ("categorical_crossentropy", ["accuracy"])
    assert model.metrics_names == ["loss", "acc"]
    for expected, restored in zip(state, model.optimizer.get_weights(), strict=True):
        np.testing.assert_allclose(restored, expected, rtol=1e-7)


def test_a_keras1_weights_file_loads_into_a_model(tmp_path):
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        write_layers(f, [("dense_1", ["dense_1_W", "dense_1_b"], [W, B]), ("activation_1", [], [])])
        assert set(f.attrs) == {"layer_names"}
    model = Sequential([Dense(2, input_dim=3, name="renamed")])
    model.load_weights(str(path))
    np.testing.assert_allclose(model.predict(X), X @ W + B, rtol=1e-5, atol=1e-6)
