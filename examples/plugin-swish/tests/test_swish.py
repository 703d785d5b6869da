"""lamella-swish as its users meet it: installed with pip, found through its entry point.

These tests import only lamella's public API (and the plugin's modules to compare
objects), so they pass only if the installed package registers what it
promises.  Run them where lamella-core and this package are installed (at the root of
lamella's repository: ``pip install -c constraints.txt ./packages/core ./examples/plugin-swish
pytest``, or ``nox -s plugin_example``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest
import torch
from lamella_swish.activations import swish
from lamella_swish.layers import ScaledSwish as PluginScaledSwish
from lamella_swish.losses import log_cosh
from lamella_swish.metrics import mean_error

import lamella.plugins
from lamella.layers import Activation, Dense
from lamella.models import Sequential, load_model, model_from_json
from lamella.optimizers import TorchOptimizer
from lamella.testing import check_layer


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def scaled_swish_reference(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    (beta,) = weights
    return x * np_sigmoid(beta * x)


# -- found through the entry point ------------------------------------------------------


def test_the_layer_imports_from_lamella_layers():
    from lamella.layers import ScaledSwish

    assert ScaledSwish is PluginScaledSwish


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("activations", "swish", swish),
        ("losses", "log_cosh", log_cosh),
        ("losses", "logcosh", log_cosh),
        ("metrics", "mean_error", mean_error),
        ("layers", "ScaledSwish", PluginScaledSwish),
    ],
)
def test_every_name_resolves_to_the_plugins_object(kind, name, expected):
    assert lamella.plugins.get(kind, name) is expected


def test_lamella_plugins_lists_the_distribution_and_what_it_registered():
    """What a user sees with ``lamella plugins --json`` after ``pip install``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    result = subprocess.run(
        [sys.executable, "-m", "lamella.cli", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (entry,) = [e for e in json.loads(result.stdout) if e["distribution"] == "lamella-swish"]
    assert entry["name"] == "swish"
    assert entry["module"] == "lamella_swish.plugin"
    assert entry["version"] == metadata.version("lamella-swish")
    assert (entry["status"], entry["errors"]) == ("loaded", [])
    assert entry["registered"] == {
        "activations": ["swish"],
        "layers": ["ScaledSwish"],
        "losses": ["log_cosh"],
        "metrics": ["mean_error"],
    }
    assert "lamella-swish" not in result.stderr  # no warning about this plugin


# -- the maths --------------------------------------------------------------------------


def test_activation_swish_by_name_matches_numpy():
    x = np.linspace(-8, 8, 24, dtype="float32").reshape(4, 6)
    model = Sequential([Activation("swish", input_shape=(6,))])
    np.testing.assert_allclose(model.predict(x), x * np_sigmoid(x), rtol=1e-6, atol=1e-6)


def test_a_layer_takes_swish_as_its_activation_and_saves_the_name():
    layer = Dense(3, input_dim=2, activation="swish")
    assert layer.activation is swish
    assert layer.get_config()["activation"] == "swish"


@pytest.mark.parametrize("input_shape", [(5, 4), (3, 7, 4)], ids=["2d", "3d"])
def test_scaled_swish_passes_the_layer_checks(input_shape):
    """Shape inference, numbers, one weight, config round trip, gradients (and CUDA)."""
    check_layer(
        PluginScaledSwish,
        {"beta_init": 0.5},
        input_shape=input_shape,
        reference=scaled_swish_reference,
        weights_count=1,
    )


def test_scaled_swish_applies_each_features_own_beta():
    """beta 0 halves the input, beta 1 is swish, a large beta is almost a ReLU."""
    model = Sequential([PluginScaledSwish(input_shape=(3,))])
    model.layers[0].set_weights([np.array([0.0, 1.0, 20.0], dtype="float32")])
    x = np.array([[-2.0, -2.0, -2.0], [3.0, 3.0, 3.0]], dtype="float32")
    expected = np.stack([x[:, 0] / 2, x[:, 1] * np_sigmoid(x[:, 1]), np.maximum(x[:, 2], 0)], 1)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6, atol=1e-6)


def test_scaled_swish_refuses_an_unknown_feature_count():
    layer = PluginScaledSwish()
    with pytest.raises(ValueError, match="last axis"):
        layer.build((None, None))


def test_log_cosh_matches_numpy_and_does_not_overflow():
    rng = np.random.default_rng(0)
    y_true = rng.standard_normal((6, 3)).astype("float32")
    y_pred = rng.standard_normal((6, 3)).astype("float32")
    expected = np.log(np.cosh(y_pred - y_true)).mean(axis=-1)
    got = log_cosh(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)
    far = log_cosh(torch.zeros(1, 1), torch.full((1, 1), 1000.0))
    np.testing.assert_allclose(far.numpy(), [1000.0 - np.log(2.0)], rtol=1e-6)


def test_log_cosh_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        log_cosh(torch.zeros(4), torch.zeros(4, 1))


def test_mean_error_is_the_signed_bias():
    y_true = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    y_pred = torch.tensor([[2.0, 4.0], [-1.0, 0.0]])
    np.testing.assert_allclose(mean_error(y_true, y_pred).numpy(), [1.5, -0.5])


# -- a model that uses everything, trained, saved and loaded -----------------------------


def build_model() -> Sequential:
    model = Sequential()
    model.add(Dense(8, input_dim=4, activation="swish"))
    model.add(PluginScaledSwish())
    model.add(Dense(1))
    model.compile(
        optimizer=TorchOptimizer(torch.optim.Adam, lr=0.02),
        loss="log_cosh",
        metrics=["mean_error"],
        device="cpu",
    )
    return model


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + 0.3).astype("float32")
    return x, y


@pytest.fixture(scope="module")
def trained(data) -> Sequential:
    torch.manual_seed(0)
    model = build_model()
    model.fit(*data, nb_epoch=8, batch_size=16, verbose=0)
    return model


def test_a_model_using_every_name_trains(trained):
    history = trained.history.history  # Keras 1 keeps the last fit's History here
    assert set(history) == {"loss", "mean_error"}
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    beta = trained.layers[1].get_weights()[0]
    assert beta.shape == (8,)
    assert not np.allclose(beta, 1.0)  # the betas trained


def test_model_from_json_rebuilds_it_without_custom_objects(trained, data):
    text = trained.to_json()
    layers = json.loads(text)["config"]
    assert [layer["class_name"] for layer in layers] == ["Dense", "ScaledSwish", "Dense"]
    assert layers[0]["config"]["activation"] == "swish"
    rebuilt = model_from_json(text)
    assert isinstance(rebuilt.layers[1], PluginScaledSwish)
    rebuilt.set_weights(trained.get_weights())
    np.testing.assert_allclose(rebuilt.predict(data[0]), trained.predict(data[0]), rtol=1e-6)


def test_an_hdf5_file_loads_back_without_custom_objects(trained, data, tmp_path):
    """Needs a serializer for .h5 (lamella-io-hdf5); skipped where none is installed."""
    if not lamella.plugins.available(".h5", "serializers"):
        pytest.skip("no serializer for .h5 files: pip install lamella-io-hdf5")
    path = tmp_path / "m.h5"
    trained.save(str(path))
    loaded = load_model(str(path))
    np.testing.assert_allclose(loaded.predict(data[0]), trained.predict(data[0]), rtol=1e-6)
    loss = loaded.evaluate(*data, verbose=0)
    np.testing.assert_allclose(loss, trained.evaluate(*data, verbose=0), rtol=1e-5)
