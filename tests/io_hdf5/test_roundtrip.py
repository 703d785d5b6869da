"""lamella's own .h5 files: Keras 1.2.2's layout (read back with plain h5py),
loaded back to the same predictions, and training that resumes exactly."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import torch

import lamella.hdf5.writer as writer
from lamella.engine.optimizer import TorchOptimizer
from lamella.layers import Input, merge
from lamella.layers.core import Activation, Dense, Dropout, Flatten
from lamella.models import Model, Sequential, load_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def decoded(names: np.ndarray) -> list[str]:
    return [name.decode("utf-8") for name in names]


def stack() -> Sequential:
    return Sequential([Dense(4, input_dim=3), Activation("tanh"), Dropout(0.3), Dense(2)])


def two_inputs() -> Model:
    a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    left = Dense(4, activation="relu", name="left")(a)
    right = Dense(4, name="right")(Dropout(0.5)(b))
    return Model(input=[a, b], output=Dense(2, name="out")(merge([left, right], mode="concat")))


def trained(model: Model, optimizer=torch.optim.Adam) -> Model:
    model.compile(optimizer, "mse", metrics=["accuracy"])
    inputs = [X, X[::-1].copy()] if len(model.inputs) == 2 else X
    model.fit(inputs, Y, batch_size=8, nb_epoch=1, verbose=0)
    return model


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("build", [stack, two_inputs])
def test_a_saved_model_loads_back_compiled_with_equal_predictions(tmp_path, build):
    model = trained(build())
    inputs = [X, X[::-1].copy()] if len(model.inputs) == 2 else X
    path = tmp_path / "model.h5"
    model.save(str(path))
    loaded = load_model(str(path))
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(inputs), model.predict(inputs))
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)
    assert (loaded.loss, loaded.metrics, loaded.metrics_names) == (
        "mse",
        ["accuracy"],
        model.metrics_names,
    )
    assert isinstance(loaded.optimizer, TorchOptimizer)
    assert loaded.optimizer.torch_class is torch.optim.Adam
    for saved, restored in zip(
        model.optimizer.get_weights(), loaded.optimizer.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(saved, restored)


def test_weightless_layers_and_the_hdf5_ending_round_trip(tmp_path):
    model = Sequential([Flatten(input_shape=(2, 3)), Dense(2, activation="softmax")])
    path = tmp_path / "flat.hdf5"
    model.save(str(path))
    with pytest.warns(UserWarning, match="no training configuration"):
        loaded = load_model(str(path))
    x = RNG.normal(size=(5, 2, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize(
    ("module", "build", "suffixes"),
    [
        (
            "lamella.layers.normalization",
            lambda layers: Sequential([layers.BatchNormalization(input_shape=(3,)), Dense(2)]),
            ["gamma", "beta", "running_mean", "running_std"],  # §4.4
        ),
        (
            "lamella.layers.embeddings",
            lambda layers: Sequential([layers.Embedding(10, 3, input_length=4), Flatten()]),
            ["W"],
        ),
    ],
)
def test_other_core_layers_round_trip(tmp_path, module, build, suffixes):
    layers = pytest.importorskip(module)
    try:
        model = build(layers)
    except AttributeError:
        pytest.skip(f"{module} lacks the layer")
    model.set_weights([RNG.uniform(0.5, 1.5, size=w.shape) for w in model.get_weights()])
    x = X if module.endswith("normalization") else RNG.integers(0, 10, size=(6, 4))
    model.save(str(tmp_path / "m.h5"))
    loaded = load_model(str(tmp_path / "m.h5"), compile=False)
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with h5py.File(tmp_path / "m.h5", "r") as f:
        first = model.layers[0]
        group = f["model_weights"][first.name]
        names = decoded(group.attrs["weight_names"])
        assert names == [f"{first.name}_{suffix}" for suffix in suffixes]
        for name, value in zip(names, first.get_weights(), strict=True):
            np.testing.assert_array_equal(group[name][()], value)


def test_a_nested_model_is_one_group_holding_its_layers_weights(tmp_path):
    """Keras writes ``layer.weights`` (trainable first) for a model used as a layer, which is
    not the order of its get_weights (layer by layer) once it has non-trainable weights."""
    normalization = pytest.importorskip("lamella.layers.normalization")
    inner = Sequential(
        [normalization.BatchNormalization(input_shape=(3,), name="bn"), Dense(2, name="d")],
        name="inner",
    )
    x = Input(shape=(3,), name="x")
    model = Model(input=x, output=Dense(1, name="top")(inner(x)))
    model.set_weights([RNG.uniform(0.5, 1.5, size=w.shape) for w in model.get_weights()])
    model.save(str(tmp_path / "m.h5"))
    expected = ["bn_gamma", "bn_beta", "d_W", "d_b", "bn_running_mean", "bn_running_std"]
    by_layer = ["bn_gamma", "bn_beta", "bn_running_mean", "bn_running_std", "d_W", "d_b"]
    values = dict(zip(by_layer, inner.get_weights(), strict=True))
    with h5py.File(tmp_path / "m.h5", "r") as f:
        group = f["model_weights"]
        assert decoded(group.attrs["layer_names"]) == ["x", "inner", "top"]
        assert decoded(group["inner"].attrs["weight_names"]) == expected
        for name in expected:
            np.testing.assert_array_equal(group["inner"][name][()], values[name])
    loaded = load_model(str(tmp_path / "m.h5"), compile=False)
    for saved, restored in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, restored)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_the_seed_program(tmp_path, monkeypatch):
    """model.save / load_model / save_weights / load_weights, as the Keras 1 FAQ writes it."""
    monkeypatch.chdir(tmp_path)
    model = trained(stack())
    expected = model.predict(X)
    model.save("my_model.h5")
    del model
    model = load_model("my_model.h5")
    model.save_weights("my_model_weights.h5")
    model.load_weights("my_model_weights.h5")
    np.testing.assert_array_equal(model.predict(X), expected)
    assert sorted(os.listdir(tmp_path)) == ["my_model.h5", "my_model_weights.h5"]


# -- the layout, read with h5py alone ---------------------------------------------------


def test_model_save_writes_keras_1_2_2_layout(tmp_path):
    model = trained(stack())
    path = tmp_path / "model.h5"
    model.save(str(path))
    with h5py.File(path, "r") as f:
        assert set(f.attrs) == {"keras_version", "backend", "model_config", "training_config"}
        assert all(isinstance(f.attrs[key], bytes) for key in f.attrs)
        assert (f.attrs["keras_version"], f.attrs["backend"]) == (b"1.2.2", b"pytorch")
        config = json.loads(f.attrs["model_config"])
        assert set(config) == {"class_name", "config"} and config["class_name"] == "Sequential"
        assert [entry["class_name"] for entry in config["config"]] == [
            "Dense",
            "Activation",
            "Dropout",
            "Dense",
        ]
        assert config["config"][0]["config"]["batch_input_shape"] == [None, 3]
        assert config["config"][0]["config"]["output_dim"] == 4
        training = json.loads(f.attrs["training_config"])
        assert training == {
            "optimizer_config": {
                "class_name": "TorchOptimizer",
                "config": training["optimizer_config"]["config"],
            },
            "loss": "mse",
            "metrics": ["accuracy"],
            "sample_weight_mode": None,
            "loss_weights": None,
        }
        assert training["optimizer_config"]["config"]["torch_class"] == "Adam"

        group = f["model_weights"]
        assert set(group.attrs) == {"layer_names"}  # no keras_version/backend there
        assert group.attrs["layer_names"].dtype.kind == "S"
        assert decoded(group.attrs["layer_names"]) == [
            "dense_1",
            "activation_1",
            "dropout_1",
            "dense_2",
        ]
        assert set(group) == {"dense_1", "activation_1", "dropout_1", "dense_2"}
        for name, shapes, layer in [
            ("dense_1", [(3, 4), (4,)], model.layers[0]),
            ("dense_2", [(4, 2), (2,)], model.layers[3]),
        ]:
            weight_names = decoded(group[name].attrs["weight_names"])
            assert weight_names == [f"{name}_W", f"{name}_b"]
            for weight, shape, value in zip(weight_names, shapes, layer.get_weights(), strict=True):
                dataset = group[name][weight]
                assert (dataset.dtype, dataset.shape) == (np.float32, shape)
                np.testing.assert_array_equal(dataset[()], value)
        for name in ("activation_1", "dropout_1"):
            assert len(group[name].attrs["weight_names"]) == 0
            assert len(group[name]) == 0

        state = model.optimizer.get_weights()
        optimizer = f["optimizer_weights"]
        names = decoded(optimizer.attrs["weight_names"])
        assert names == [f"param_{i}" for i in range(len(state))] and state
        for name, value in zip(names, state, strict=True):
            np.testing.assert_array_equal(optimizer[name][()], value)


def test_functional_models_list_every_layer_in_keras_depth_order(tmp_path):
    """model.layers order (§4.3): deepest first, ties in the order a walk from the output
    finds them: out, merge_1, left, a, right, dropout_1, b -> b, a, dropout_1, left ..."""
    model = two_inputs()
    model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5", "r") as f:
        group = f["model_weights"]
        expected = ["b", "a", "dropout_1", "left", "right", "merge_1", "out"]
        assert decoded(group.attrs["layer_names"]) == expected
        assert len(group["a"].attrs["weight_names"]) == 0  # InputLayers have groups too
        assert decoded(group["out"].attrs["weight_names"]) == ["out_W", "out_b"]
        config = json.loads(f.attrs["model_config"])
        assert config["class_name"] == "Model"
        assert config["config"]["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
        assert config["config"]["output_layers"] == [["out", 0, 0]]
        assert "training_config" not in f.attrs and "optimizer_weights" not in f


def test_save_weights_writes_only_the_layer_groups(tmp_path):
    model = stack()
    model.save_weights(str(tmp_path / "w.h5"))
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert set(f.attrs) == {"layer_names"}
        assert decoded(f.attrs["layer_names"]) == [
            "dense_1",
            "activation_1",
            "dropout_1",
            "dense_2",
        ]
        assert set(f) == {"dense_1", "activation_1", "dropout_1", "dense_2"}
        np.testing.assert_array_equal(
            f["dense_2"]["dense_2_b"][()], model.layers[3].get_weights()[1]
        )


def test_long_name_lists_are_split_and_read_back(tmp_path):
    """Over 64 KiB, layer_names becomes layer_names0, layer_names1 ... (Keras 2's rule);
    the model_config, over 64 KiB too, stays one attribute."""
    names = [f"act_{i}_" + "x" * 2000 for i in range(40)]
    model = Sequential(
        [Dense(2, input_dim=3), *(Activation("linear", name=name) for name in names)]
    )
    path = tmp_path / "long.h5"
    model.save(str(path))
    with h5py.File(path, "r") as f:
        attrs = f["model_weights"].attrs
        assert "layer_names" not in attrs
        chunks = sorted(key for key in attrs if key.startswith("layer_names"))
        assert len(chunks) > 1 and all(attrs[key].nbytes <= 64512 for key in chunks)
        joined = [name for i in range(len(chunks)) for name in decoded(attrs[f"layer_names{i}"])]
        assert joined == ["dense_1", *names]
        assert len(f.attrs["model_config"]) > 64512
    np.testing.assert_array_equal(load_model(str(path), compile=False).predict(X), model.predict(X))


# -- load_weights ---------------------------------------------------------------------------


def test_load_weights_reads_a_whole_model_file_and_pairs_layers_by_order(tmp_path):
    source = stack()
    source.save(str(tmp_path / "m.h5"))
    target = Sequential([Dense(4, input_dim=3, name="p"), Dense(2, name="q")])
    target.load_weights(str(tmp_path / "m.h5"))
    for saved, loaded in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, loaded)


def test_by_name_loads_into_another_architecture(tmp_path):
    source = Sequential([Dense(4, input_dim=3, name="shared"), Dense(2, name="head")])
    source.save_weights(str(tmp_path / "w.h5"))
    target = Sequential(
        [Dense(4, input_dim=3, name="shared"), Dense(5, name="other"), Dense(1, name="extra")]
    )
    untouched = [w.copy() for w in target.get_weights()[2:]]
    target.load_weights(str(tmp_path / "w.h5"), by_name=True)
    for saved, loaded in zip(
        source.layers[0].get_weights(), target.layers[0].get_weights(), strict=True
    ):
        np.testing.assert_array_equal(saved, loaded)
    for before, after in zip(untouched, target.get_weights()[2:], strict=True):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match=r"holds weights for 2 layers.*has 3 layers"):
        target.load_weights(str(tmp_path / "w.h5"))


def test_by_name_refuses_a_shape_mismatch_and_changes_nothing(tmp_path):
    Sequential([Dense(4, input_dim=3, name="shared")]).save_weights(str(tmp_path / "w.h5"))
    target = Sequential([Dense(5, input_dim=3, name="shared")])
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"w\.h5.*'shared'.*\(3, 5\).*\(3, 4\)"):
        target.load_weights(str(tmp_path / "w.h5"), by_name=True)
    for old, new in zip(before, target.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


# -- writing safely -----------------------------------------------------------------------


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    path = tmp_path / "m.h5"
    model = stack()
    model.save(str(path))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"m\.h5"):
        stack().save(str(path), overwrite=False)
    with pytest.raises(FileExistsError, match=r"m\.h5"):
        stack().save_weights(str(path), overwrite=False)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.h5"]


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "m.h5"
    old = stack()
    old.save(str(path))
    real = writer.write_arrays

    def fail_midway(group, names, arrays):
        real(group, names[:1], arrays[:1])  # half a layer is on disk when it fails
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_arrays", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        stack().save(str(path))
    with pytest.raises(OSError, match="disk full"):
        stack().save_weights(str(path))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.h5"]  # no temporary file left behind
    with pytest.warns(UserWarning, match="no training configuration"):
        np.testing.assert_array_equal(load_model(str(path)).predict(X), old.predict(X))


# -- the training configuration --------------------------------------------------------


def named_stack() -> Sequential:
    """Fixed names, so that two copies sort their weights (and optimizer state) alike."""
    return Sequential(
        [Dense(5, input_dim=3, activation="tanh", name="hidden"), Dense(2, name="out")]
    )


def resumed_against_straight(tmp_path, optimizer) -> tuple[Model, Model]:
    """Train 4 epochs straight, and 2 + save + load + 2; return both models."""
    straight, resumed = named_stack(), named_stack()
    resumed.set_weights(straight.get_weights())
    for model in (straight, resumed):
        model.compile(optimizer(), "mse")
    straight.fit(X, Y, batch_size=4, nb_epoch=4, shuffle=False, verbose=0)
    resumed.fit(X, Y, batch_size=4, nb_epoch=2, shuffle=False, verbose=0)
    resumed.save(str(tmp_path / "half.h5"))
    resumed = load_model(str(tmp_path / "half.h5"))
    resumed.fit(X, Y, batch_size=4, nb_epoch=2, shuffle=False, verbose=0)
    return straight, resumed


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: torch.optim.Adam,
        lambda: TorchOptimizer(torch.optim.SGD, lr=0.05, momentum=0.9),
    ],
    ids=["torch-Adam", "torch-SGD-momentum"],
)
def test_training_resumes_exactly_with_torch_optimizers(tmp_path, optimizer):
    straight, resumed = resumed_against_straight(tmp_path, optimizer)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


def test_training_resumes_exactly_with_keras_adam(tmp_path):
    optim = pytest.importorskip("lamella.optim")
    straight, resumed = resumed_against_straight(tmp_path, lambda: optim.Adam(lr=0.01))
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    with h5py.File(tmp_path / "half.h5", "r") as f:
        assert json.loads(f.attrs["training_config"])["optimizer_config"]["class_name"] == "Adam"
        # Keras's Adam state (§2.4): iterations, then m and v per weight; 2 epochs x 4 batches
        assert f["optimizer_weights"]["iterations"][()] == 8
        assert len(f["optimizer_weights"]) == 1 + 2 * 4
    fresh = load_model(str(tmp_path / "half.h5"), compile=False)
    fresh.compile(optim.Adam(lr=0.01), "mse")
    fresh.fit(X, Y, batch_size=4, nb_epoch=2, shuffle=False, verbose=0)
    gap = max(
        np.abs(a - b).max()
        for a, b in zip(fresh.get_weights(), straight.get_weights(), strict=True)
    )
    assert gap > 1e-4  # without the saved state the run would differ


def my_loss(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean(-1)


def test_custom_losses_are_saved_by_name_and_found_in_custom_objects(tmp_path, recwarn):
    model = named_stack()
    model.compile(torch.optim.SGD, my_loss)
    model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert json.loads(f.attrs["training_config"])["loss"] == "my_loss"
    loaded = load_model(str(tmp_path / "m.h5"), custom_objects={"my_loss": my_loss})
    assert loaded.loss is my_loss and not recwarn.list
    loaded = load_model(str(tmp_path / "m.h5"))
    assert len(recwarn.list) == 1
    assert "NOT compiled" in str(recwarn.list[0].message)
    assert "my_loss" in str(recwarn.list[0].message)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(RuntimeError, match="compile"):
        loaded.fit(X, Y, verbose=0)


def test_an_unknown_optimizer_loads_the_model_uncompiled_with_one_warning(tmp_path, recwarn):
    model = named_stack()
    model.compile(torch.optim.SGD, "mse")
    model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        training = json.loads(f.attrs["training_config"])
        training["optimizer_config"] = {"class_name": "NoSuchOptimizer", "config": {}}
        f.attrs["training_config"] = json.dumps(training).encode()
    loaded = load_model(str(tmp_path / "m.h5"))
    assert len(recwarn.list) == 1 and "NoSuchOptimizer" in str(recwarn.list[0].message)
    assert not hasattr(loaded, "objectives")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    load_model(str(tmp_path / "m.h5"), compile=False)
    assert len(recwarn.list) == 1
