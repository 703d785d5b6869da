"""Resuming training from files of models with recurrent layers, Keras 1.2.2's and lamella's.

lamella's LSTM, GRU and SimpleRNN keep fused Parameters; Keras 1.2.2 keeps one weight per
gate and its optimizer state per weight, ``[iterations] + ms + vs`` over the trainable
weights sorted by name (``Model.compile`` sorts ``trainable_weights``; Adam builds one ``m``
and one ``v`` per weight in that order).  The reference here is Keras 1's model and Adam
written out in torch (float64, autograd for the gradients): a Keras 1.2.2 file must resume
in lamella to the weights that reference gives from the file's state, and a lamella file
must hold its state so that the same reference, reading it as Keras 1.2.2's ``load_model``
would, resumes to the weights lamella reaches.
"""

from __future__ import annotations

import json
import math
import warnings

import h5py
import numpy as np
import pytest
import torch

from lamella.models import load_model

pytestmark = pytest.mark.requires("lamella-layers-recurrent", "lamella-optimizers")

RNG = np.random.default_rng(5)
VOCAB, DIM, STEPS, UNITS, CLASSES, SAMPLES, BATCH = 20, 4, 6, 5, 3, 24, 12
X = RNG.integers(0, VOCAB, size=(SAMPLES, STEPS))
Y = np.eye(CLASSES)[RNG.integers(0, CLASSES, size=SAMPLES)]
ADAM = {"lr": 0.0010000000474974513, "beta_1": 0.8999999761581421,
        "beta_2": 0.9990000128746033, "decay": 0.0, "epsilon": 1e-08}  # fmt: skip
#: Each layer's weights in Keras 1.2.2's order (``layer.weights``), as suffixes.
GATES = {"LSTM": "icfo", "GRU": "zrh", "SimpleRNN": ""}
#: The order lamella's fused Parameters stack the gates' blocks in (one block: SimpleRNN).
STACKED = {"LSTM": "ifco", "GRU": "zrh", "SimpleRNN": "-"}


def rnn_suffixes(kind: str) -> list[str]:
    if not GATES[kind]:
        return ["W", "U", "b"]
    return [f"{w}_{gate}" for gate in GATES[kind] for w in ("W", "U", "b")]


def rnn_name(kind: str) -> str:
    return f"{kind.lower()}_1"


def layer_weights(kind: str) -> list[tuple[str, list[str]]]:
    """The model's layers with their weight names, in the file's order."""
    rnn = rnn_name(kind)
    return [
        ("embedding_1", ["embedding_1_W"]),
        (rnn, [f"{rnn}_{s}" for s in rnn_suffixes(kind)]),
        ("dense_1", ["dense_1_W", "dense_1_b"]),
    ]


def shapes(kind: str) -> dict[str, tuple[int, ...]]:
    found = {"embedding_1_W": (VOCAB, DIM), "dense_1_W": (UNITS, CLASSES), "dense_1_b": (CLASSES,)}
    for suffix in rnn_suffixes(kind):
        rows = {"W": DIM, "U": UNITS, "b": None}[suffix[0]]
        found[f"{rnn_name(kind)}_{suffix}"] = (UNITS,) if rows is None else (rows, UNITS)
    return found


def keras1_config(kind: str) -> dict:
    """Keras 1.2.2's config of Embedding -> kind(UNITS) -> Dense(softmax), as it wrote it."""
    recurrent = {
        "name": rnn_name(kind), "trainable": True, "return_sequences": False,
        "go_backwards": False, "stateful": False, "unroll": False, "consume_less": "cpu",
        "input_dim": DIM, "input_length": None, "output_dim": UNITS, "init": "glorot_uniform",
        "inner_init": "orthogonal", "activation": "tanh", "W_regularizer": None,
        "U_regularizer": None, "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0,
    }  # fmt: skip
    if kind != "SimpleRNN":
        recurrent["inner_activation"] = "hard_sigmoid"
    if kind == "LSTM":
        recurrent["forget_bias_init"] = "one"
    return {
        "class_name": "Sequential",
        "config": [
            {"class_name": "Embedding", "config": {
                "name": "embedding_1", "trainable": True, "batch_input_shape": [None, STEPS],
                "input_dtype": "int32", "input_dim": VOCAB, "output_dim": DIM, "init": "uniform",
                "input_length": STEPS, "mask_zero": False, "activity_regularizer": None,
                "W_regularizer": None, "W_constraint": None, "dropout": 0.0}},
            {"class_name": kind, "config": recurrent},
            {"class_name": "Dense", "config": {
                "name": "dense_1", "trainable": True, "output_dim": CLASSES,
                "init": "glorot_uniform", "activation": "softmax", "W_regularizer": None,
                "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
                "b_constraint": None, "bias": True, "input_dim": UNITS}},
        ],
    }  # fmt: skip


TRAINING = {
    "optimizer_config": {"class_name": "Adam", "config": ADAM},
    "loss": "categorical_crossentropy",
    "metrics": [],
    "sample_weight_mode": None,
    "loss_weights": None,
}


# -- Keras 1's model and Adam, written out --------------------------------------------


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


def keras1_loss(kind: str, w: dict[str, torch.Tensor], x: np.ndarray, y: np.ndarray):
    """Keras 1.2.2's forward pass (consume_less='cpu' step functions) and mean
    categorical crossentropy (outputs renormalised and clipped to [1e-7, 1 - 1e-7])."""
    r = rnn_name(kind)
    inputs = w["embedding_1_W"][torch.as_tensor(x)]
    h = torch.zeros(len(x), UNITS, dtype=torch.float64)
    c = torch.zeros_like(h)

    def gate(g: str, state: torch.Tensor) -> torch.Tensor:
        return step @ w[f"{r}_W_{g}"] + w[f"{r}_b_{g}"] + state @ w[f"{r}_U_{g}"]

    for t in range(x.shape[1]):
        step = inputs[:, t]
        if kind == "LSTM":
            i, f, o = (
                hard_sigmoid(gate("i", h)),
                hard_sigmoid(gate("f", h)),
                hard_sigmoid(gate("o", h)),
            )
            c = f * c + i * torch.tanh(gate("c", h))
            h = o * torch.tanh(c)
        elif kind == "GRU":
            z, reset = hard_sigmoid(gate("z", h)), hard_sigmoid(gate("r", h))
            h = z * h + (1 - z) * torch.tanh(gate("h", reset * h))
        else:
            h = torch.tanh(step @ w[f"{r}_W"] + w[f"{r}_b"] + h @ w[f"{r}_U"])
    p = torch.softmax(h @ w["dense_1_W"] + w["dense_1_b"], dim=-1)
    p = torch.clamp(p / p.sum(-1, keepdim=True), 1e-7, 1 - 1e-7)
    return -(torch.as_tensor(y) * torch.log(p)).sum(-1).mean()


def keras1_adam_epoch(kind, weights, iterations, ms, vs):
    """One epoch of Keras 1.2.2's Adam from the given state, batches in order."""
    weights = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    ms = {k: np.asarray(v, np.float64) for k, v in ms.items()}
    vs = {k: np.asarray(v, np.float64) for k, v in vs.items()}
    for start in range(0, SAMPLES, BATCH):
        leaves = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
        keras1_loss(kind, leaves, X[start : start + BATCH], Y[start : start + BATCH]).backward()
        t = iterations + 1
        lr_t = ADAM["lr"] * math.sqrt(1 - ADAM["beta_2"] ** t) / (1 - ADAM["beta_1"] ** t)
        for k, leaf in leaves.items():
            g = leaf.grad.numpy()
            ms[k] = ADAM["beta_1"] * ms[k] + (1 - ADAM["beta_1"]) * g
            vs[k] = ADAM["beta_2"] * vs[k] + (1 - ADAM["beta_2"]) * g * g
            weights[k] = weights[k] - lr_t * ms[k] / (np.sqrt(vs[k]) + ADAM["epsilon"])
        iterations += 1
    return weights


def lamella_weights(model) -> dict[str, np.ndarray]:
    """Every weight of ``model`` under its Keras name (the per-gate views of the RNN)."""
    return {
        w._keras_name: w.detach().numpy().copy() for layer in model.layers for w in layer.weights
    }


def assert_weights_close(actual: dict, expected: dict, atol: float) -> None:
    assert sorted(actual) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=0, atol=atol, err_msg=name)


def largest_difference(a: dict, b: dict) -> float:
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


# -- a file in Keras 1.2.2's exact layout ---------------------------------------------


def keras1_file(path, kind: str, weights: dict, iterations: float, ms: dict, vs: dict) -> None:
    """What Keras 1.2.2's save_model writes on TensorFlow: names with ``:0``; the optimizer's
    variables unnamed (``Variable_<k>:0``: iterations, lr, beta_1, beta_2, decay, then the
    ms, then the vs), listed iterations, ms, vs over the sorted weight names."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["model_config"] = json.dumps(keras1_config(kind)).encode()
        f.attrs["training_config"] = json.dumps(TRAINING).encode()
        group = f.create_group("model_weights")
        layers = layer_weights(kind)
        group.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        for layer, names in layers:
            g = group.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{n}:0".encode() for n in names])
            for n in names:
                g.create_dataset(f"{n}:0", data=weights[n].astype("float32"))
        ordered = sorted(weights)
        values = [np.float32(iterations), *(ms[n] for n in ordered), *(vs[n] for n in ordered)]
        names = ["Variable:0"] + [f"Variable_{4 + k}:0" for k in range(1, len(values))]
        state = f.create_group("optimizer_weights")
        state.attrs["weight_names"] = np.array([n.encode() for n in names])
        for name, value in zip(names, values, strict=True):
            state.create_dataset(name, data=np.asarray(value, dtype="float32"))


def random_state(kind: str) -> tuple[dict, float, dict, dict]:
    """Weights and an Adam state (40 steps taken) as a Keras 1 run would have left them."""
    sizes = shapes(kind).items()
    weights = {n: RNG.normal(scale=0.4, size=s).astype("float32") for n, s in sizes}
    ms = {n: RNG.normal(scale=0.02, size=s).astype("float32") for n, s in sizes}
    vs = {n: RNG.uniform(1e-6, 4e-4, size=s).astype("float32") for n, s in sizes}
    return weights, 40.0, ms, vs


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_a_keras1_file_resumes_with_its_optimizer_state(tmp_path, kind):
    weights, iterations, ms, vs = random_state(kind)
    path = tmp_path / "keras1.h5"
    keras1_file(path, kind, weights, iterations, ms, vs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dropped optimizer state warns
        model = load_model(str(path))
    assert float(model.optimizer.iterations) == iterations
    model.fit(X, Y, nb_epoch=1, batch_size=BATCH, shuffle=False, verbose=0)

    expected = keras1_adam_epoch(kind, weights, iterations, ms, vs)
    assert_weights_close(lamella_weights(model), expected, atol=1e-5)
    fresh = keras1_adam_epoch(
        kind, weights, 0, {k: 0 * v for k, v in ms.items()}, {k: 0 * v for k, v in vs.items()}
    )
    assert largest_difference(fresh, expected) > 1e-4  # the state is what the match shows


# -- lamella's files, read back as Keras 1.2.2 reads them ---------------------------


def lamella_model(kind: str, **kwargs):
    from lamella.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
    from lamella.models import Sequential
    from lamella.optimizers import Adam

    layer = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}[kind]
    if kind != "SimpleRNN":
        kwargs.setdefault("inner_activation", "hard_sigmoid")
    torch.manual_seed(0)
    model = Sequential(
        [
            Embedding(VOCAB, DIM, input_length=STEPS),
            layer(UNITS, **kwargs),
            Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(Adam(**{k: ADAM[k] for k in ("lr", "beta_1", "beta_2", "epsilon")}),
                  "categorical_crossentropy")  # fmt: skip
    model.fit(X, Y, nb_epoch=3, batch_size=BATCH, shuffle=False, verbose=0)
    return model


def fused_state_in_keras_layout(model, kind: str) -> dict[str, list[np.ndarray]]:
    """The optimizer's ms and vs per Keras weight, sliced from its fused state by hand:
    ``weight_ih (k·n, in)`` is the gates' ``W`` transposed and stacked (LSTM i, f, c, o;
    Keras 1's GRU z, r, h), ``weight_hh`` the ``U``s, ``bias`` the ``b``s."""
    optimizer = model.optimizer
    index = {id(p): i for i, p in enumerate(optimizer.params)}
    state, count = optimizer.get_weights(), len(optimizer.params)
    embedding, rnn, dense = model.layers
    result: dict[str, list[np.ndarray]] = {}
    for slot in range(2):

        def of(param, slot=slot):
            return state[1 + slot * count + index[id(param)]]

        for name, param in (("embedding_1_W", embedding.W), ("dense_1_W", dense.W),
                            ("dense_1_b", dense.b)):  # fmt: skip
            result.setdefault(name, []).append(of(param))
        for k, gate in enumerate(STACKED[kind]):
            rows = slice(k * UNITS, (k + 1) * UNITS)
            suffix = f"_{gate}" if GATES[kind] else ""
            for key, param in (("W", rnn.weight_ih), ("U", rnn.weight_hh), ("b", rnn.bias)):
                name = f"{rnn_name(kind)}_{key}{suffix}"
                result.setdefault(name, []).append(of(param)[rows].T)
    return result


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_a_saved_file_holds_keras1_state_that_resumes_as_in_lamella(tmp_path, kind):
    model = lamella_model(kind)
    path = tmp_path / "lamella.h5"
    model.save(str(path))

    with h5py.File(path, "r") as f:  # what Keras 1.2.2's load_model reads
        layers = [n.decode() for n in f["model_weights"].attrs["layer_names"]]
        weights = {}
        for layer in layers:
            group = f["model_weights"][layer]
            for n in group.attrs["weight_names"]:
                weights[n.decode()] = group[n.decode()][()]
        group = f["optimizer_weights"]
        names = [n.decode() for n in group.attrs["weight_names"]]
        state = [group[n][()] for n in names]
    ordered = sorted(weights)  # Keras 1.2.2's _collected_trainable_weights
    assert sorted(weights) == sorted(shapes(kind))
    assert [s.shape for s in state] == [()] + [weights[n].shape for n in ordered] * 2
    assert names == ["iterations"] + [f"ms_{n}" for n in ordered] + [f"vs_{n}" for n in ordered]
    by_hand = fused_state_in_keras_layout(model, kind)
    for k, name in enumerate(ordered):
        np.testing.assert_array_equal(state[1 + k], by_hand[name][0], err_msg=name)
        np.testing.assert_array_equal(state[1 + len(ordered) + k], by_hand[name][1], err_msg=name)

    iterations = float(state[0])
    ms = dict(zip(ordered, state[1 : 1 + len(ordered)], strict=True))
    vs = dict(zip(ordered, state[1 + len(ordered) :], strict=True))
    expected = keras1_adam_epoch(kind, weights, iterations, ms, vs)
    model.fit(X, Y, nb_epoch=1, batch_size=BATCH, shuffle=False, verbose=0)
    assert_weights_close(lamella_weights(model), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [("LSTM", {}), ("LSTM", {"consume_less": "gpu"}), ("GRU", {"consume_less": "gpu"}),
     ("GRU", {"reset_after": True}), ("SimpleRNN", {})],
    ids=["lstm", "lstm-gpu", "gru-gpu", "gru-reset-after", "simplernn"],
)  # fmt: skip
def test_a_saved_recurrent_model_resumes_exactly_in_lamella(tmp_path, kind, kwargs):
    """Saved, loaded and trained on, the model reaches the weights of the run that never
    stopped; the file's state arrays have the shapes of the Keras weights they belong to."""
    model = lamella_model(kind, **kwargs)
    path = tmp_path / "m.h5"
    model.save(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = load_model(str(path))
    for a, b in zip(model.optimizer.get_weights(), resumed.optimizer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for m in (model, resumed):
        m.fit(X, Y, nb_epoch=2, batch_size=BATCH, shuffle=False, verbose=0)
    assert_weights_close(lamella_weights(resumed), lamella_weights(model), atol=0)

    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f["optimizer_weights"].attrs["weight_names"]]
        sizes = {n: f["optimizer_weights"][n].shape for n in names}
    keras = lamella_weights(model)
    assert names[1:] == [f"{slot}_{n}" for slot in ("ms", "vs") for n in sorted(keras)]
    assert all(sizes[f"ms_{n}"] == keras[n].shape for n in keras)
    if kwargs.get("reset_after"):  # per gate, with the recurrent biases bU (Keras 2's variant)
        assert {"gru_1_bU_z", "gru_1_bU_r", "gru_1_bU_h"} <= set(keras)


def test_a_lamella_file_written_in_the_optimizers_own_order_still_loads(tmp_path):
    """Files saved before the state was written in Keras's order hold the fused state
    under Theano's ``param_<i>`` names; the lamella ``backend`` attribute tells them apart."""
    model = lamella_model("LSTM")
    path = tmp_path / "old.h5"
    model.save(str(path))
    own = model.optimizer.get_weights()
    with h5py.File(path, "r+") as f:
        del f["optimizer_weights"]
        group = f.create_group("optimizer_weights")
        names = [f"param_{i}" for i in range(len(own))]
        group.attrs["weight_names"] = np.array([n.encode() for n in names])
        for name, value in zip(names, own, strict=True):
            group.create_dataset(name, data=value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = load_model(str(path))
    for a, b in zip(own, resumed.optimizer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrapped_recurrent_layers_save_their_state_per_gate(tmp_path):
    """Bidirectional's two LSTMs and a TimeDistributed Dense: every Keras weight has its
    state, sorted by name across the model, and the model resumes exactly."""
    from lamella.layers import LSTM, Bidirectional, Dense, Embedding, TimeDistributed
    from lamella.models import Sequential

    torch.manual_seed(1)
    model = Sequential(
        [
            Embedding(VOCAB, DIM, input_length=STEPS),
            Bidirectional(LSTM(UNITS, return_sequences=True)),
            TimeDistributed(Dense(2)),
            LSTM(UNITS),
            Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy")
    model.fit(X, Y, nb_epoch=2, batch_size=BATCH, shuffle=False, verbose=0)
    path = tmp_path / "wrapped.h5"
    model.save(str(path))
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f["optimizer_weights"].attrs["weight_names"]]
    keras = lamella_weights(model)
    assert len(keras) == 1 + 2 * 12 + 2 + 12 + 2
    assert names == ["iterations"] + [f"{slot}_{n}" for slot in ("ms", "vs") for n in sorted(keras)]
    assert "ms_forward_lstm_1_W_i" in names and "ms_backward_lstm_1_U_o" in names
    resumed = load_model(str(path))
    for m in (model, resumed):
        m.fit(X, Y, nb_epoch=1, batch_size=BATCH, shuffle=False, verbose=0)
    assert_weights_close(lamella_weights(resumed), lamella_weights(model), atol=0)
