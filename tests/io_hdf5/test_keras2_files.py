"""Keras 2 and Keras 3 files load into lamella and predict what Keras (or numpy) predicted.

The ``keras3_*`` files were written by Keras 3.15.1 (torch backend) with
tests/fixtures/keras_files/make_keras3_files.py, each with an ``.npz`` of an input
batch and Keras's predictions.  The Keras 2 files are written here with h5py in
Keras 2.2.4's layout and checked against numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from lamella.layers.core import Dense, Dropout
from lamella.models import Sequential, load_model

FILES = Path(__file__).resolve().parents[1] / "fixtures" / "keras_files"
RNG = np.random.default_rng(3)


CONV = pytest.mark.requires("lamella-layers-conv")
RECURRENT = pytest.mark.requires("lamella-layers-recurrent")


@pytest.mark.parametrize(
    "name",
    [
        "mlp",
        pytest.param("cnn", marks=CONV),
        pytest.param("conv1d", marks=CONV),
        pytest.param("lstm", marks=RECURRENT),
        pytest.param("gru", marks=RECURRENT),
        pytest.param("gru_reset_after", marks=RECURRENT),
        pytest.param("wrappers", marks=RECURRENT),
        "batchnorm",
        "core_layers",
        "merges",
        "nested",
        pytest.param("conv2d_layers", marks=CONV),
        pytest.param("conv_transpose", marks=CONV),
        pytest.param("conv_channels_first", marks=CONV),
        pytest.param("conv1d_3d", marks=CONV),
        pytest.param("time_distributed", marks=[CONV, RECURRENT]),
    ],
)
def test_keras3_file_predicts_what_keras_did(name: str) -> None:
    expected = np.load(FILES / f"keras3_{name}.npz")
    several = sorted(
        (k for k in expected if k.startswith("x") and k != "x"), key=lambda k: int(k[1:])
    )
    x = expected["x"] if "x" in expected else [expected[key] for key in several]
    model = load_model(FILES / f"keras3_{name}.h5", compile=False)
    y = model.predict(x)
    if isinstance(y, list):  # several outputs: flattened, side by side, as the .npz has them
        y = np.concatenate([np.reshape(out, (len(out), -1)) for out in y], axis=1)
    np.testing.assert_allclose(y, expected["y"], atol=1e-5)


def test_keras3_weights_load_into_a_model_built_with_lamella() -> None:
    expected = np.load(FILES / "keras3_mlp.npz")
    model = Sequential(
        [Dense(8, activation="relu", input_dim=6), Dropout(0.3), Dense(3, activation="softmax")]
    )
    model.load_weights(FILES / "keras3_mlp.h5")
    np.testing.assert_allclose(model.predict(expected["x"]), expected["y"], atol=1e-5)


@RECURRENT
def test_keras3_reset_after_gru_loads_as_reset_after_gru_on_the_fused_path() -> None:
    model = load_model(FILES / "keras3_gru_reset_after.h5", compile=False)
    grus = [layer for layer in model.layers if type(layer).__name__ == "GRU"]
    assert [(g.reset_after, g.path, g.go_backwards) for g in grus] == [
        (True, "fused", False),
        (True, "fused", True),
    ]
    # the fixture's biases are away from zero, so a swap of its two bias rows would show
    assert all(np.abs(g.recurrent_bias.detach().numpy()).min() > 1e-3 for g in grus)


@RECURRENT
@pytest.mark.parametrize(
    ("file_bias", "reset_after", "match"),
    [((2, 12), False, r"shape \(2, 12\), a GRU with reset_after=True, but the layer has "
                      r"reset_after=False"),
     ((12,), True, r"shape \(12,\), a GRU with reset_after=False, but the layer has "
                   r"reset_after=True")],
)  # fmt: skip
def test_reset_after_of_file_and_layer_must_agree(
    tmp_path: Path, file_bias: tuple, reset_after: bool, match: str
) -> None:
    from lamella.recurrent.recurrent import GRU

    arrays = {"kernel": np.zeros((3, 12), "float32"),
              "recurrent_kernel": np.zeros((4, 12), "float32"),
              "bias": np.zeros(file_bias, "float32")}  # fmt: skip
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "GRU", "config": {"name": "gru_1", "units": 4}}]}}  # fmt: skip
    path = tmp_path / "gru.h5"
    _write_keras2(path, config, {"gru_1": arrays})
    model = Sequential([GRU(4, input_shape=(5, 3), reset_after=reset_after, name="mine")])
    with pytest.raises(ValueError, match=r"layer 'mine' \(GRU\): the file's bias has " + match):
        model.load_weights(path)


def test_fixtures_stay_small() -> None:
    assert all(path.stat().st_size < 100_000 for path in FILES.iterdir())


# --- Keras 2.2.4 files, written with h5py ---------------------------------------------


def _write_keras2(path: Path, config: dict, weights: dict[str, dict[str, np.ndarray]],
                  backend: str = "tensorflow") -> None:  # fmt: skip
    """A ``model.save`` file as Keras 2.2.4 wrote it: ``<layer>/<layer>/kernel:0`` datasets,
    version and backend on the root and on ``model_weights``, bytes attributes."""
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        for obj in (f, group):
            obj.attrs["keras_version"] = b"2.2.4"
            obj.attrs["backend"] = backend.encode()
        layers = [entry["config"]["name"] for entry in _layers(config)]
        group.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for layer in layers:
            arrays = weights.get(layer, {})
            names = [f"{layer}/{key}:0" for key in arrays]
            sub = group.create_group(layer)
            sub.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for name, array in zip(names, arrays.values(), strict=True):
                sub.create_dataset(name, data=array)


def _layers(config: dict) -> list[dict]:
    body = config["config"]
    return body["layers"] if isinstance(body, dict) else body


def _dense_config(name: str, units: int, activation: str) -> dict:
    return {
        "class_name": "Dense",
        "config": {
            "name": name, "trainable": True, "units": units, "activation": activation,
            "use_bias": True,
            "kernel_initializer": {"class_name": "VarianceScaling", "config": {
                "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}},
            "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 2.0,
                                                                      "axis": 0}},
            "bias_constraint": None,
        },
    }  # fmt: skip


def _cnn(data_format: str) -> dict:
    shape = [None, 2, 6, 5] if data_format == "channels_first" else [None, 6, 5, 2]
    conv = {
        "class_name": "Conv2D",
        "config": {
            "name": "conv2d_1", "trainable": True, "batch_input_shape": shape,
            "dtype": "float32", "filters": 3, "kernel_size": [3, 2], "strides": [1, 1],
            "padding": "valid", "data_format": data_format, "dilation_rate": [1, 1],
            "activation": "relu", "use_bias": True,
            "kernel_initializer": {"class_name": "VarianceScaling", "config": {}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None,
        },
    }  # fmt: skip
    flatten = {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True,
                                                   "data_format": "channels_last"}}  # fmt: skip
    return {
        "class_name": "Sequential",
        "config": {"name": "sequential_1", "layers": [conv, flatten,
                                                      _dense_config("dense_1", 2, "linear")]},
    }  # fmt: skip


def _correlate(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation of (N, H, W, C) with a (r, c, in, out) kernel, 'valid'."""
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel.shape[:2], axis=(1, 2))
    return np.einsum("nhwcab,abco->nhwo", windows, kernel)


@CONV
@pytest.mark.parametrize(
    ("data_format", "backend"),
    [("channels_first", "tensorflow"), ("channels_last", "tensorflow"),
     ("channels_last", "theano")],
)  # fmt: skip
def test_keras2_cnn_matches_numpy(tmp_path: Path, data_format: str, backend: str) -> None:
    kernel = RNG.normal(size=(3, 2, 2, 3)).astype("float32")
    bias = RNG.normal(size=(3,)).astype("float32")
    w = RNG.normal(size=(4 * 4 * 3, 2)).astype("float32")
    b = RNG.normal(size=(2,)).astype("float32")
    x = RNG.normal(size=(4, 6, 5, 2)).astype("float32")  # channels last
    features = np.maximum(_correlate(x, kernel) + bias, 0)
    if data_format == "channels_first":
        x = x.transpose(0, 3, 1, 2)
        features = features.transpose(0, 3, 1, 2)  # Flatten sees channel-major maps
    expected = features.reshape(len(x), -1) @ w + b
    saved = kernel[::-1, ::-1] if backend == "theano" else kernel  # Theano convolves
    path = tmp_path / "cnn.h5"
    _write_keras2(path, _cnn(data_format), {
        "conv2d_1": {"kernel": saved, "bias": bias}, "dense_1": {"kernel": w, "bias": b}},
        backend)  # fmt: skip
    model = load_model(path, compile=False)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-4)


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(0.2 * x + 0.5, 0, 1)


def _lstm(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray):
    """Keras 2's LSTM with its defaults (hard_sigmoid gates, tanh); gate blocks i, f, c, o."""
    n = recurrent.shape[0]
    h = np.zeros((len(x), n))
    c = np.zeros((len(x), n))
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * n : (k + 1) * n] for k in range(4))
        c = _hard_sigmoid(f) * c + _hard_sigmoid(i) * np.tanh(g)
        h = _hard_sigmoid(o) * np.tanh(c)
    return h


def _functional_lstm(consume: int) -> dict:
    lstm = {
        "name": "lstm_1", "class_name": "LSTM",
        "config": {
            "name": "lstm_1", "trainable": True, "return_sequences": False,
            "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
            "units": 4, "activation": "tanh", "recurrent_activation": "hard_sigmoid",
            "use_bias": True, "kernel_initializer": {"class_name": "VarianceScaling",
                                                     "config": {}},
            "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "unit_forget_bias": True, "kernel_regularizer": None,
            "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
            "recurrent_dropout": 0.0, "implementation": consume,
        },
        "inbound_nodes": [[["input_1", 0, 0, {}]]],
    }  # fmt: skip
    dense = {**_dense_config("dense_1", 2, "softmax"), "name": "dense_1",
             "inbound_nodes": [[["lstm_1", 0, 0, {}]]]}  # fmt: skip
    source = {"name": "input_1", "class_name": "InputLayer", "inbound_nodes": [],
              "config": {"batch_input_shape": [None, 5, 3], "dtype": "float32",
                         "sparse": False, "name": "input_1"}}  # fmt: skip
    return {
        "class_name": "Model",
        "config": {"name": "model_1", "layers": [source, lstm, dense],
                   "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_1", 0, 0]]},
    }  # fmt: skip


@RECURRENT
@pytest.mark.parametrize("implementation", [1, 2])  # per-gate weights; gpu's one W, U, b
def test_keras2_functional_lstm_matches_numpy(tmp_path: Path, implementation: int) -> None:
    kernel = RNG.normal(size=(3, 16)).astype("float32")
    recurrent = RNG.normal(size=(4, 16)).astype("float32") * 0.5
    bias = RNG.normal(size=(16,)).astype("float32")
    w = RNG.normal(size=(4, 2)).astype("float32")
    b = RNG.normal(size=(2,)).astype("float32")
    x = RNG.normal(size=(6, 5, 3)).astype("float32")
    logits = _lstm(x, kernel, recurrent, bias) @ w + b
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    path = tmp_path / "lstm.h5"
    _write_keras2(path, _functional_lstm(implementation), {
        "lstm_1": {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias},
        "dense_1": {"kernel": w, "bias": b}})  # fmt: skip
    model = load_model(path, compile=False)
    assert model.layers[1].consume_less == ("gpu" if implementation == 2 else "cpu")
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _gru_reset_after(x, kernel, recurrent, bias, inner) -> np.ndarray:
    """Keras 2's GRU(reset_after=True): blocks z, r, h; bias rows input, recurrent."""
    n = recurrent.shape[0]
    h = np.zeros((len(x), n))
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=-1)
        hz, hr, hh = np.split(h @ recurrent + bias[1], 3, axis=-1)
        z, r = inner(xz + hz), inner(xr + hr)
        h = z * h + (1 - z) * np.tanh(xh + r * hh)
    return h


@RECURRENT
@pytest.mark.parametrize(
    ("implementation", "inner"), [(1, "hard_sigmoid"), (2, "sigmoid")]
)  # fmt: skip
def test_keras2_bidirectional_reset_after_gru_matches_numpy(
    tmp_path: Path, implementation: int, inner: str
) -> None:
    gru = {"class_name": "GRU", "config": {
        "name": "gru_1", "trainable": True, "return_sequences": False, "go_backwards": False,
        "stateful": False, "unroll": False, "units": 4, "activation": "tanh",
        "recurrent_activation": inner, "use_bias": True, "reset_after": True,
        "kernel_initializer": {"class_name": "VarianceScaling", "config": {}},
        "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
        "activity_regularizer": None, "kernel_constraint": None,
        "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
        "recurrent_dropout": 0.0, "implementation": implementation}}  # fmt: skip
    config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
        {"class_name": "Bidirectional", "config": {
            "name": "bidirectional_1", "trainable": True, "batch_input_shape": [None, 5, 3],
            "dtype": "float32", "layer": gru, "merge_mode": "concat"}}]}}  # fmt: skip
    weights = {}
    for direction in ("forward", "backward"):
        for key, shape in (("kernel", (3, 12)), ("recurrent_kernel", (4, 12)),
                           ("bias", (2, 12))):  # fmt: skip
            weights[f"{direction}_gru_1/{key}"] = RNG.normal(size=shape).astype("float32")
    path = tmp_path / "bigru.h5"
    _write_keras2(path, config, {"bidirectional_1": weights})
    x = RNG.normal(size=(6, 5, 3)).astype("float32")
    activation = _sigmoid if inner == "sigmoid" else _hard_sigmoid
    halves = []
    for direction, steps in (("forward", x), ("backward", x[:, ::-1])):
        arrays = [weights[f"{direction}_gru_1/{key}"] for key in ("kernel", "recurrent_kernel")]
        bias = weights[f"{direction}_gru_1/bias"]
        halves.append(_gru_reset_after(steps, *arrays, bias, activation))
    expected = np.concatenate(halves, axis=-1)
    model = load_model(path, compile=False)
    layer = model.layers[0].forward_layer
    assert layer.reset_after and layer.path == ("fused" if inner == "sigmoid" else "loop")
    assert layer.consume_less == ("gpu" if implementation == 2 else "cpu")
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)


@CONV
def test_unknown_argument_is_dropped_with_one_warning(tmp_path: Path) -> None:
    config = _cnn("channels_last")
    config["config"]["layers"][0]["config"]["future_argument"] = 3
    kernel = np.zeros((3, 2, 2, 3), "float32")
    path = tmp_path / "cnn.h5"
    _write_keras2(path, config, {"conv2d_1": {"kernel": kernel, "bias": np.zeros(3, "float32")},
                                 "dense_1": {"kernel": np.zeros((48, 2), "float32"),
                                             "bias": np.zeros(2, "float32")}})  # fmt: skip
    with pytest.warns(UserWarning, match=r"'conv2d_1'.*'future_argument'") as caught:
        load_model(path, compile=False)
    assert len([w for w in caught if "dropped" in str(w.message)]) == 1


@CONV
def test_keras2_dilated_conv2d_is_an_atrous_convolution(tmp_path: Path) -> None:
    kernel = RNG.normal(size=(3, 2, 2, 3)).astype("float32")
    bias = RNG.normal(size=(3,)).astype("float32")
    w = RNG.normal(size=(2 * 3 * 3, 2)).astype("float32")
    b = RNG.normal(size=(2,)).astype("float32")
    x = RNG.normal(size=(4, 6, 5, 2)).astype("float32")
    dilated = np.zeros((5, 3, 2, 3), "float32")
    dilated[::2, ::2] = kernel
    expected = np.maximum(_correlate(x, dilated) + bias, 0).reshape(len(x), -1) @ w + b
    config = _cnn("channels_last")
    config["config"]["layers"][0]["config"]["dilation_rate"] = [2, 2]
    path = tmp_path / "cnn.h5"
    _write_keras2(path, config, {"conv2d_1": {"kernel": kernel, "bias": bias},
                                 "dense_1": {"kernel": w, "bias": b}})  # fmt: skip
    model = load_model(path, compile=False)
    assert type(model.layers[0]).__name__ == "AtrousConvolution2D"
    assert model.layers[0].atrous_rate == (2, 2)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-4)


@CONV
def test_keras2_channels_first_flatten_moves_the_channels_last(tmp_path: Path) -> None:
    """Keras 2/3 ``Flatten(data_format='channels_first')`` flattens channels-last maps:
    Keras 1's Permute then Flatten, in a Sequential named as the layer."""
    kernel = RNG.normal(size=(3, 2, 2, 3)).astype("float32")
    bias = RNG.normal(size=(3,)).astype("float32")
    w = RNG.normal(size=(4 * 4 * 3, 2)).astype("float32")
    b = RNG.normal(size=(2,)).astype("float32")
    x = RNG.normal(size=(4, 6, 5, 2)).astype("float32")
    expected = np.maximum(_correlate(x, kernel) + bias, 0).reshape(len(x), -1) @ w + b
    config = _cnn("channels_first")
    config["config"]["layers"][1]["config"]["data_format"] = "channels_first"
    path = tmp_path / "cnn.h5"
    _write_keras2(path, config, {"conv2d_1": {"kernel": kernel, "bias": bias},
                                 "dense_1": {"kernel": w, "bias": b}})  # fmt: skip
    model = load_model(path, compile=False)
    flatten = model.layers[1]
    assert flatten.name == "flatten_1"
    assert [type(layer).__name__ for layer in flatten.layers] == ["Permute", "Flatten"]
    np.testing.assert_allclose(model.predict(x.transpose(0, 3, 1, 2)), expected, atol=1e-4)


def _layer(class_name: str, name: str, inbound: list | None = None, **config) -> dict:
    entry = {"class_name": class_name, "config": {"name": name, **config}}
    if inbound is not None:
        entry.update(name=name, inbound_nodes=[[[*ref, {}] for ref in inbound]])
    return entry


def _transposed(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """Keras 2's Conv2DTranspose, 'valid', of (N, H, W, C) with a (r, c, out, in) kernel."""
    (n, h, w, _), (r, c, out, _), (s0, s1) = x.shape, kernel.shape, strides
    y = np.zeros((n, (h - 1) * s0 + r, (w - 1) * s1 + c, out))
    for i in range(h):
        for j in range(w):
            y[:, i * s0 : i * s0 + r, j * s1 : j * s1 + c] += np.einsum(
                "nk,abok->nabo", x[:, i, j], kernel
            )
    return y


@CONV
def test_keras2_nested_model_and_conv2d_transpose_match_numpy(tmp_path: Path) -> None:
    """Keras 2 numbers a nested model's calls from 1 and names its weights by its own
    layers; the Conv2DTranspose's output_shape comes from building the layers before it."""
    conv = _layer("Conv2D", "conv2d_1", batch_input_shape=[None, 4, 3, 2], filters=3,
                  kernel_size=[1, 1], strides=[1, 1], padding="valid",
                  data_format="channels_last", dilation_rate=[1, 1], activation="linear",
                  use_bias=True)  # fmt: skip
    inner = {"class_name": "Sequential", "name": "inner",
             "config": {"name": "inner", "layers": [conv]},
             "inbound_nodes": [[["input_1", 0, 0, {}]]]}  # fmt: skip
    transpose = _layer("Conv2DTranspose", "conv2d_transpose_1", [["inner", 1, 0]], filters=2,
                       kernel_size=[3, 2], strides=[2, 1], padding="valid",
                       output_padding=None, data_format="channels_last",
                       dilation_rate=[1, 1], activation="linear", use_bias=True)  # fmt: skip
    source = _layer("InputLayer", "input_1", [], batch_input_shape=[None, 4, 3, 2],
                    dtype="float32", sparse=False)  # fmt: skip
    config = {"class_name": "Model", "config": {
        "name": "model_1", "layers": [source, inner, transpose],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["conv2d_transpose_1", 0, 0]]}}  # fmt: skip
    k1 = RNG.normal(size=(1, 1, 2, 3)).astype("float32")
    b1 = RNG.normal(size=(3,)).astype("float32")
    k2 = RNG.normal(size=(3, 2, 2, 3)).astype("float32")  # (rows, cols, out, in)
    b2 = RNG.normal(size=(2,)).astype("float32")
    path = tmp_path / "nested.h5"
    _write_keras2(path, config, {
        "inner": {"conv2d_1/kernel": k1, "conv2d_1/bias": b1},
        "conv2d_transpose_1": {"kernel": k2, "bias": b2}})  # fmt: skip
    x = RNG.normal(size=(3, 4, 3, 2)).astype("float32")
    expected = _transposed(x @ k1[0, 0] + b1, k2, (2, 1)) + b2
    model = load_model(path, compile=False)
    assert model.layers[-1].get_config()["output_shape"] == (None, 9, 4, 2)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-4)


def test_keras2_advanced_activations_match_numpy(tmp_path: Path) -> None:
    """ThresholdedReLU (Keras 2 only), LeakyReLU, ELU and PReLU with shared axes."""
    dense = _layer("Dense", "dense_1", batch_input_shape=[None, 6], units=8,
                   activation="linear", use_bias=True)  # fmt: skip
    layers = [dense, _layer("Reshape", "reshape_1", target_shape=[2, 4]),
              _layer("PReLU", "p_re_lu_1", shared_axes=[1]),
              _layer("ThresholdedReLU", "thresholded_re_lu_1", theta=0.3),
              _layer("LeakyReLU", "leaky_re_lu_1", alpha=0.2),
              _layer("ELU", "elu_1", alpha=0.5), _layer("Flatten", "flatten_1")]  # fmt: skip
    config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}
    w = RNG.normal(size=(6, 8)).astype("float32")
    b = RNG.normal(size=(8,)).astype("float32")
    alpha = RNG.normal(size=(1, 4)).astype("float32")
    path = tmp_path / "activations.h5"
    _write_keras2(path, config, {"dense_1": {"kernel": w, "bias": b},
                                 "p_re_lu_1": {"alpha": alpha}})  # fmt: skip
    x = RNG.normal(size=(5, 6)).astype("float32")
    y = (x @ w + b).reshape(5, 2, 4)
    y = np.where(y > 0, y, alpha * y)
    y = np.where(y > 0.3, y, 0)
    y = np.where(y > 0, y, 0.2 * y)
    expected = np.where(y > 0, y, 0.5 * (np.exp(y) - 1)).reshape(5, -1)
    model = load_model(path, compile=False)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)


def _local_config(dimensions: int, data_format: str, shape: list, **config) -> dict:
    local = _layer(f"LocallyConnected{dimensions}D", "local_1", batch_input_shape=shape,
                   filters=3, padding="valid", data_format=data_format, activation="linear",
                   use_bias=True, **config)  # fmt: skip
    return {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [local]}}


@CONV
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_keras2_locally_connected_layers_match_numpy(tmp_path: Path, data_format: str) -> None:
    """Keras 2's kernels (positions, window features, filters) and biases are Keras 1's;
    a 'channels_first' output gets its bias reshaped, not transposed, as in Keras."""
    x = RNG.normal(size=(2, 7, 6, 3)).astype("float32")  # channels last
    kernel = RNG.normal(size=(3 * 2, 3 * 2 * 3, 3)).astype("float32")  # out 3x2 of 3x2 windows
    bias = RNG.normal(size=(3, 2, 3)).astype("float32")
    first = data_format == "channels_first"
    out = np.empty((2, 3, 2, 3), "float32")
    for i in range(3):
        for j in range(2):
            patch = x[:, i * 2 : i * 2 + 3, j * 3 : j * 3 + 2]  # strides (2, 3)
            patch = patch.transpose(0, 3, 1, 2) if first else patch
            out[:, i, j] = patch.reshape(2, -1) @ kernel[i * 2 + j]
    expected = out.transpose(0, 3, 1, 2) + bias.reshape(1, 3, 3, 2) if first else out + bias
    shape = [None, 3, 7, 6] if first else [None, 7, 6, 3]
    config = _local_config(2, data_format, shape, kernel_size=[3, 2], strides=[2, 3])
    path = tmp_path / "local2d.h5"
    _write_keras2(path, config, {"local_1": {"kernel": kernel, "bias": bias}})
    model = load_model(path, compile=False)
    np.testing.assert_allclose(
        model.predict(x.transpose(0, 3, 1, 2) if first else x), expected, atol=1e-4
    )
    steps = RNG.normal(size=(2, 7, 4)).astype("float32")
    kernel = RNG.normal(size=(3, 3 * 4, 3)).astype("float32")  # 3 outputs of 3-step windows
    bias = RNG.normal(size=(3, 3)).astype("float32")
    expected = np.stack([steps[:, t * 2 : t * 2 + 3].reshape(2, -1) @ kernel[t] + bias[t]
                         for t in range(3)], axis=1)  # fmt: skip
    config = _local_config(1, "channels_last", [None, 7, 4], kernel_size=[3], strides=[2])
    path = tmp_path / "local1d.h5"
    _write_keras2(path, config, {"local_1": {"kernel": kernel, "bias": bias}})
    np.testing.assert_allclose(load_model(path, compile=False).predict(steps), expected,
                               atol=1e-4)  # fmt: skip


_CONV = {"padding": "valid", "data_format": "channels_last", "activation": "linear"}
_GRU = {"units": 2, "go_backwards": False, "return_sequences": False}
_REFUSED = [
    ("Conv2D", dict(_CONV, filters=2, kernel_size=[2, 2], groups=2), "groups=2"),
    ("Conv1D", dict(_CONV, filters=2, kernel_size=[2], padding="causal"), "padding='causal'"),
    ("Conv1D", dict(_CONV, filters=2, kernel_size=[2], data_format="channels_first"),
     "data_format='channels_first'"),
    ("Conv3D", dict(_CONV, filters=2, kernel_size=[2, 2, 2], dilation_rate=[2, 2, 2]),
     r"dilation_rate=\[2, 2, 2\]"),
    ("SeparableConv2D", dict(_CONV, filters=2, kernel_size=[2, 2], dilation_rate=[1, 2]),
     r"dilation_rate=\[1, 2\]"),
    ("Conv2DTranspose", dict(_CONV, filters=2, kernel_size=[2, 2], strides=[2, 2],
                             padding="same", output_padding=[1, 0]), r"output_padding=\[1, 0\]"),
    ("Conv2DTranspose", dict(_CONV, filters=2, kernel_size=[2, 2], dilation_rate=[2, 2]),
     "dilation_rate"),
    ("LocallyConnected2D", dict(_CONV, filters=2, kernel_size=[2, 2], implementation=2),
     "implementation=2"),
    ("UpSampling2D", {"size": [2, 2], "interpolation": "bilinear"}, "interpolation='bilinear'"),
    ("ZeroPadding3D", {"padding": [[1, 1], [0, 1], [2, 2]]}, "padding="),
    ("GlobalAveragePooling2D", {"keepdims": True}, "keepdims=True"),
]  # fmt: skip
_REFUSED_CORE = [
    ("Dense", {"units": 2, "activation": "gelu"}, "activation='gelu'"),
    ("ReLU", {"max_value": 6.0}, "max_value=6.0"),
    ("Softmax", {"axis": 1}, "axis=1"),
    ("Subtract", {}, "no mode that subtracts"),
    ("Minimum", {}, "no mode that takes the minimum"),
    ("Lambda", {"function": ["code", None, None], "function_type": "lambda"}, "bytecode"),
]
_BIDIRECTIONAL = (
    "Bidirectional",
    {"layer": {"class_name": "GRU", "config": dict(_GRU, name="f")},
     "backward_layer": {"class_name": "GRU", "config": dict(_GRU, units=3)}},
    "backward_layer",
)  # fmt: skip


@pytest.mark.parametrize(
    ("class_name", "config", "match"),
    [*(pytest.param(*case, marks=CONV) for case in _REFUSED), *_REFUSED_CORE,
     pytest.param(*_BIDIRECTIONAL, marks=RECURRENT)],
)  # fmt: skip
def test_what_keras_1_cannot_compute_is_refused_naming_layer_and_argument(
    class_name: str, config: dict, match: str
) -> None:
    from lamella.hdf5 import keras2

    entry = _layer(class_name, "odd_1", batch_input_shape=[None, 4, 4, 3], **config)
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [entry]}}
    with pytest.raises(ValueError, match=rf"{class_name} layer 'odd_1'.*{match}"):
        keras2.model_config(model, "2.2.4")


@pytest.mark.parametrize(
    ("class_name", "argument"),
    [("Dense", "activation"), pytest.param("LSTM", "recurrent_activation", marks=RECURRENT)],
)
def test_keras3_hard_sigmoid_is_refused_keras2_is_keras1(class_name: str, argument: str) -> None:
    """Keras 3's hard_sigmoid is clip(x / 6 + 0.5); Keras 1 and 2's clip(0.2 x + 0.5)."""
    from lamella.hdf5 import keras2

    entry = _layer(class_name, "odd_1", batch_input_shape=[None, 5, 3], units=2,
                   **{argument: "hard_sigmoid"})  # fmt: skip
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [entry]}}
    converted = keras2.model_config(model, "2.2.4")["config"]["layers"][0]["config"]
    assert "hard_sigmoid" in converted.values()
    with pytest.raises(ValueError, match=rf"'odd_1' has {argument}='hard_sigmoid': Keras 3"):
        keras2.model_config(model, "3.15.1")


def test_keras3_dot_normalize_is_cos_only_for_two_vectors() -> None:
    from lamella.hdf5 import keras2

    def model(shape: list) -> dict:
        tensors = [{"class_name": "__keras_tensor__",
                    "config": {"shape": shape, "keras_history": [name, 0, 0]}}
                   for name in ("a", "b")]  # fmt: skip
        sources = [_layer("InputLayer", name, [], batch_shape=shape) for name in ("a", "b")]
        dot = {"class_name": "Dot", "name": "dot_1", "inbound_nodes": [{"args": [tensors]}],
               "config": {"name": "dot_1", "axes": -1, "normalize": True}}  # fmt: skip
        return {"class_name": "Functional", "config": {
            "name": "f", "layers": [*sources, dot], "input_layers": [["a", 0, 0], ["b", 0, 0]],
            "output_layers": ["dot_1", 0, 0]}}  # fmt: skip

    merge = keras2.model_config(model([None, 4]), "3.15.1")["config"]["layers"][-1]
    assert (merge["class_name"], merge["config"]["mode"]) == ("Merge", "cos")
    with pytest.raises(ValueError, match=r"Dot layer 'dot_1' has normalize=True on inputs"):
        keras2.model_config(model([None, 3, 4]), "3.15.1")


@CONV
def test_keras1_theano_kernels_are_flipped(tmp_path: Path) -> None:
    """A Keras 1 file marked ``backend: theano`` holds convolution (flipped) kernels."""
    kernel = RNG.normal(size=(3, 2, 2, 3)).astype("float32")  # (r, c, in, out)
    bias = RNG.normal(size=(3,)).astype("float32")
    x = RNG.normal(size=(4, 6, 5, 2)).astype("float32")
    expected = (_correlate(x, kernel) + bias).transpose(0, 3, 1, 2)
    theano_th = kernel[::-1, ::-1].transpose(3, 2, 0, 1)  # th layout (out, in, r, c)
    conv = {"name": "convolution2d_1", "trainable": True, "batch_input_shape": [None, 2, 6, 5],
            "input_dtype": "float32", "nb_filter": 3, "nb_row": 3, "nb_col": 2,
            "init": "glorot_uniform", "activation": "linear", "border_mode": "valid",
            "subsample": [1, 1], "dim_ordering": "th", "W_regularizer": None,
            "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True}  # fmt: skip
    path = tmp_path / "theano.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["backend"] = b"theano"
        config = {"class_name": "Sequential",
                  "config": [{"class_name": "Convolution2D", "config": conv}]}  # fmt: skip
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([b"convolution2d_1"])
        layer = group.create_group("convolution2d_1")
        layer.attrs["weight_names"] = np.array([b"convolution2d_1_W", b"convolution2d_1_b"])
        layer.create_dataset("convolution2d_1_W", data=theano_th)
        layer.create_dataset("convolution2d_1_b", data=bias)
    model = load_model(path, compile=False)
    np.testing.assert_allclose(model.predict(x.transpose(0, 3, 1, 2)), expected, atol=1e-4)
