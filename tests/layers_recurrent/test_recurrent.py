"""SimpleRNN, GRU, LSTM and the wrappers against numpy references of Keras 1's equations.

The references below write every gate out in float64, take the weights in Keras 1's
``get_weights()`` layout (per gate for cpu/mem, column blocks for gpu) and implement
Keras's masking: a masked step keeps the states and outputs the previous h.  Each
configuration runs on the path the layer picks (fused kernel or step loop), and the
two paths are also compared with each other on the same weights.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import pytest
import torch
from recurrent_helpers import (
    IN,
    MASKS,
    NP_ACTIVATIONS,
    B,
    N,
    T,
    fixed_dropout_masks,
    outputs_and_gradients,
    random,
    randomize,
    run,
    unroll,
)

from lamella.engine.topology import Input
from lamella.engine.training import Model
from lamella.layers.core import Dense
from lamella.models import Sequential
from lamella.recurrent.recurrent import GRU, LSTM, Recurrent, SimpleRNN
from lamella.recurrent.wrappers import Bidirectional, TimeDistributed
from lamella.regularizers import l1, l2
from lamella.testing import check_layer

LAYERS = {"SimpleRNN": SimpleRNN, "GRU": GRU, "LSTM": LSTM}
DEFAULT_INNER = {"SimpleRNN": None, "GRU": "sigmoid", "LSTM": "sigmoid"}


# -- the references ---------------------------------------------------------------------


#: Keras 1's per-gate order (cpu/mem) and column-block order (gpu).
CPU_ORDER = {"SimpleRNN": "h", "GRU": "zrh", "LSTM": "icfo"}
GPU_ORDER = {"SimpleRNN": "h", "GRU": "zrh", "LSTM": "ifco"}


def by_gate(kind, weights):
    """Keras 1 arrays as {gate: (W, U, b)}."""
    weights = [np.asarray(w, dtype="float64") for w in weights]
    order = CPU_ORDER[kind]
    if len(weights) == 3 * len(order):
        return {g: tuple(weights[3 * k : 3 * k + 3]) for k, g in enumerate(order)}
    W, U, b = weights
    blocks = [np.split(a, len(order), axis=-1) for a in (W, U, b)]
    return {g: (blocks[0][k], blocks[1][k], blocks[2][k]) for k, g in enumerate(GPU_ORDER[kind])}


def np_simple_rnn(p, x, states, act, inner, dw, du):
    W, U, b = p["h"]
    h = states[0]
    return [act((x * dw["h"]) @ W + b + (h * du["h"]) @ U)]


def np_gru(p, x, states, act, inner, dw, du):
    (W_z, U_z, b_z), (W_r, U_r, b_r), (W_h, U_h, b_h) = p["z"], p["r"], p["h"]
    h = states[0]
    z = inner((x * dw["z"]) @ W_z + b_z + (h * du["z"]) @ U_z)
    r = inner((x * dw["r"]) @ W_r + b_r + (h * du["r"]) @ U_r)
    hh = act((x * dw["h"]) @ W_h + b_h + (r * h * du["h"]) @ U_h)
    return [z * h + (1 - z) * hh]


def np_lstm(p, x, states, act, inner, dw, du):
    (W_i, U_i, b_i), (W_c, U_c, b_c) = p["i"], p["c"]
    (W_f, U_f, b_f), (W_o, U_o, b_o) = p["f"], p["o"]
    h, c = states
    i = inner((x * dw["i"]) @ W_i + b_i + (h * du["i"]) @ U_i)
    f = inner((x * dw["f"]) @ W_f + b_f + (h * du["f"]) @ U_f)
    c = f * c + i * act((x * dw["c"]) @ W_c + b_c + (h * du["c"]) @ U_c)
    o = inner((x * dw["o"]) @ W_o + b_o + (h * du["o"]) @ U_o)
    return [o * act(c), c]


STEPS = {"SimpleRNN": (np_simple_rnn, 1), "GRU": (np_gru, 1), "LSTM": (np_lstm, 2)}


def reference(
    kind,
    x,
    weights,
    activation="tanh",
    inner_activation="default",
    dropout_W=None,
    dropout_U=None,
    **options,
):
    """Keras 1's recurrence: (output, final states); dropout masks as {gate: (b, dim)},
    ``options`` (return_sequences, go_backwards, mask) as ``unroll`` takes them."""
    step, count = STEPS[kind]
    if inner_activation == "default":
        inner_activation = DEFAULT_INNER[kind]
    p = by_gate(kind, weights)
    x = np.asarray(x, dtype="float64")
    n = p["h" if kind != "LSTM" else "i"][1].shape[0]
    dw = dropout_W or defaultdict(lambda: 1.0)
    du = dropout_U or defaultdict(lambda: 1.0)
    act, inner = NP_ACTIVATIONS[activation], NP_ACTIVATIONS[inner_activation]
    return unroll(
        lambda x_t, states: step(p, x_t, states, act, inner, dw, du),
        x,
        [np.zeros((x.shape[0], n))] * count,
        **options,
    )


# -- helpers ----------------------------------------------------------------------------


def make(kind, kwargs, seed=1, **extra):
    layer = LAYERS[kind](N, **kwargs, **extra)
    layer(Input(shape=(None, IN)))
    randomize(layer, seed)
    return layer


def activations_of(kind, kwargs):
    return {
        "activation": kwargs.get("activation", "tanh"),
        "inner_activation": kwargs.get("inner_activation", DEFAULT_INNER[kind]),
    }


CASES = [
    ("SimpleRNN", {}, "fused"),
    ("SimpleRNN", {"activation": "relu"}, "fused"),
    ("SimpleRNN", {"activation": "sigmoid"}, "loop"),
    ("GRU", {}, "loop"),
    ("GRU", {"inner_activation": "hard_sigmoid", "consume_less": "gpu"}, "loop"),
    ("LSTM", {}, "fused"),
    ("LSTM", {"consume_less": "gpu"}, "fused"),
    ("LSTM", {"inner_activation": "hard_sigmoid"}, "loop"),
    ("LSTM", {"activation": "sigmoid", "inner_activation": "hard_sigmoid"}, "loop"),
]
CASE_IDS = [f"{kind}-{'-'.join(map(str, kw.values())) or 'default'}" for kind, kw, _ in CASES]
FUSED = [case for case in CASES if case[2] == "fused"]
FUSED_IDS = [i for i, case in zip(CASE_IDS, CASES, strict=True) if case[2] == "fused"]


# -- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize(("kind", "kwargs", "path"), CASES, ids=CASE_IDS)
def test_matches_keras_equations(kind, kwargs, path, return_sequences, go_backwards):
    options = {"return_sequences": return_sequences, "go_backwards": go_backwards}
    layer = make(kind, kwargs, **options)
    assert layer.path == path
    x = random(B, T, IN)
    expected, _ = reference(kind, x, layer.get_weights(), **activations_of(kind, kwargs), **options)
    np.testing.assert_allclose(run(layer, x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("return_sequences", "go_backwards"),
    [(True, False), (True, True), (False, False), (False, True)],
)
@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize(("kind", "kwargs", "path"), CASES, ids=CASE_IDS)
def test_masked_steps_carry_state_and_output(
    kind, kwargs, path, mask_name, return_sequences, go_backwards
):
    options = {"return_sequences": return_sequences, "go_backwards": go_backwards}
    layer = make(kind, kwargs, **options)
    x, mask = random(B, T, IN), MASKS[mask_name]
    expected, _ = reference(
        kind, x, layer.get_weights(), **activations_of(kind, kwargs), mask=mask, **options
    )
    np.testing.assert_allclose(run(layer, x, mask), expected, rtol=1e-5, atol=1e-5)


def test_mask_decides_the_path_per_call(caplog):
    layer = make("LSTM", {}, return_sequences=True)
    caplog.set_level(logging.DEBUG, logger="lamella.recurrent")
    for name in ("post", "pre", "middle"):
        run(layer, random(B, T, IN), MASKS[name])
    assert "takes the loop path" not in caplog.text
    run(layer, random(B, T, IN), MASKS["holes"])
    run(layer, random(B, T, IN), MASKS["empty_row"])
    assert caplog.text.count("takes the loop path") == 1  # logged once per layer
    assert layer.path == "fused"


@pytest.mark.parametrize("mask_name", [None, "post", "pre"])
@pytest.mark.parametrize(("kind", "kwargs", "path"), FUSED, ids=FUSED_IDS)
def test_fused_and_loop_paths_agree(kind, kwargs, path, mask_name):
    """Same weights, same activations: outputs and every gradient match."""
    fused = make(kind, kwargs, return_sequences=True)
    loop = make(kind, kwargs, return_sequences=True)
    loop._use_fused = False
    loop.set_weights(fused.get_weights())
    assert (fused.path, loop.path) == ("fused", "loop")
    x = random(B, T, IN)
    mask = None if mask_name is None else MASKS[mask_name]
    results = [outputs_and_gradients(layer, x, mask) for layer in (fused, loop)]
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# -- stateful ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "kwargs", "path"), CASES, ids=CASE_IDS)
def test_stateful_batches_continue_one_sequence(kind, kwargs, path):
    model = Sequential(
        [
            LAYERS[kind](
                N, stateful=True, return_sequences=True, batch_input_shape=(B, None, IN), **kwargs
            )
        ]
    )
    layer = model.layers[0]
    randomize(layer)
    x = random(B, T, IN)
    first = model.predict(x[:, :3], batch_size=B)
    second = model.predict(x[:, 3:], batch_size=B)
    expected, states = reference(
        kind, x, layer.get_weights(), **activations_of(kind, kwargs), return_sequences=True
    )
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected, atol=1e-5)
    for kept, value in zip(layer.states, states, strict=True):
        np.testing.assert_allclose(kept.numpy(), value, atol=1e-5)
    layer.reset_states()
    assert all(not s.any() for s in layer.states)
    np.testing.assert_allclose(model.predict(x[:, :3], batch_size=B), first, atol=1e-6)
    # states written by predict (inference mode) must not break training afterwards
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "mse")
    model.train_on_batch(x[:, :2], np.zeros((B, 2, N), "float32"))


def test_stateful_needs_a_batch_size_and_keeps_to_it():
    with pytest.raises(ValueError, match=r"lstm_1.*batch_input_shape"):
        Sequential([LSTM(N, stateful=True, input_shape=(T, IN))])
    model = Sequential([LSTM(N, stateful=True, batch_input_shape=(B, T, IN), name="kept")])
    with pytest.raises(ValueError, match=r"kept.*batches of 3, got a batch of 2"):
        model.predict(random(2, T, IN), batch_size=2)
    with pytest.raises(RuntimeError, match=r"LSTM lstm_2: reset_states\(\) needs stateful=True"):
        make("LSTM", {}).reset_states()


# -- weights ----------------------------------------------------------------------------


def per_gate(names, input_dim=IN, n=N):
    return [
        shape
        for gate in names
        for shape in ((f"W_{gate}", (input_dim, n)), (f"U_{gate}", (n, n)), (f"b_{gate}", (n,)))
    ]


@pytest.mark.parametrize(
    ("kind", "consume_less", "expected"),
    [
        ("SimpleRNN", "cpu", [("W", (IN, N)), ("U", (N, N)), ("b", (N,))]),
        ("SimpleRNN", "gpu", [("W", (IN, N)), ("U", (N, N)), ("b", (N,))]),
        ("GRU", "cpu", per_gate("zrh")),
        ("GRU", "mem", per_gate("zrh")),
        ("GRU", "gpu", [("W", (IN, 3 * N)), ("U", (N, 3 * N)), ("b", (3 * N,))]),
        ("LSTM", "cpu", per_gate("icfo")),
        ("LSTM", "mem", per_gate("icfo")),
        ("LSTM", "gpu", [("W", (IN, 4 * N)), ("U", (N, 4 * N)), ("b", (4 * N,))]),
    ],
)
def test_weight_names_shapes_and_order(kind, consume_less, expected):
    layer = make(kind, {"consume_less": consume_less})
    assert [(w._keras_name, tuple(w.shape)) for w in layer.weights] == [
        (f"{layer.name}_{suffix}", shape) for suffix, shape in expected
    ]
    assert [a.shape for a in layer.get_weights()] == [shape for _, shape in expected]
    assert layer.count_params() == sum(int(np.prod(shape)) for _, shape in expected)
    arrays = [random(*shape, seed=k) for k, (_, shape) in enumerate(expected)]
    layer.set_weights(arrays)
    for got, sent in zip(layer.get_weights(), arrays, strict=True):
        np.testing.assert_array_equal(got, sent)


@pytest.mark.parametrize(("kind", "columns"), [("LSTM", [0, 6, 3, 9]), ("GRU", [0, 3, 6])])
def test_gpu_layout_is_the_per_gate_arrays_side_by_side(kind, columns):
    """Keras 2's loader turns cpu arrays into one kernel with these array indices."""
    cpu = make(kind, {})
    gpu = make(kind, {"consume_less": "gpu"})
    arrays = cpu.get_weights()
    gpu.set_weights([np.concatenate([arrays[c + k] for c in columns], -1) for k in range(3)])
    x = random(B, T, IN)
    np.testing.assert_allclose(run(gpu, x), run(cpu, x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("consume_less", ["cpu", "gpu"])
def test_initial_values(consume_less):
    """glorot W, orthogonal U (gain 1.1, inner_init honoured), zero biases, forget bias one."""
    layer = LSTM(N, consume_less=consume_less)
    layer(Input(shape=(T, IN)))
    gates = by_gate("LSTM", layer.get_weights())
    for gate, (W, U, b) in gates.items():
        np.testing.assert_array_equal(b, np.ones(N) if gate == "f" else np.zeros(N))
        if consume_less == "cpu":
            assert np.abs(W).max() <= np.sqrt(6 / (IN + N))
            np.testing.assert_allclose(U.T @ U, 1.21 * np.eye(N), atol=1e-5)
    if consume_less == "gpu":
        W, U, _ = layer.get_weights()
        assert np.abs(W).max() <= np.sqrt(6 / (IN + 4 * N))
        np.testing.assert_allclose(U @ U.T, 1.21 * np.eye(N), atol=1e-5)


def test_weights_argument_sets_keras_arrays():
    arrays = [random(*w.shape, seed=k) for k, w in enumerate(make("GRU", {}).get_weights())]
    layer = GRU(N, weights=arrays)
    layer(Input(shape=(T, IN)))
    for got, sent in zip(layer.get_weights(), arrays, strict=True):
        np.testing.assert_array_equal(got, sent)


def test_regularizers_penalize_the_keras_arrays():
    layer = make(
        "LSTM", {"W_regularizer": l2(0.1), "U_regularizer": l1(0.01), "b_regularizer": l2(0.5)}
    )
    gates = by_gate("LSTM", layer.get_weights()).values()
    expected = (
        0.1 * sum((W**2).sum() for W, _, _ in gates)
        + 0.01 * sum(np.abs(U).sum() for _, U, _ in gates)
        + 0.5 * sum((b**2).sum() for _, _, b in gates)
    )
    assert float(sum(layer.penalties()).detach()) == pytest.approx(expected, rel=1e-5)


def test_each_gate_array_is_regularized_on_its_own_as_keras_does():
    """A regularizer that is not a plain sum sees Keras's per-gate arrays, one penalty each."""

    def squared_total(w):
        return w.sum() ** 2

    layer = make(
        "LSTM",
        {"W_regularizer": squared_total, "U_regularizer": squared_total, "b_regularizer": None},
    )
    assert len(layer.losses) == 8  # W and U of 4 gates; Keras 1 lists one loss per array
    gates = by_gate("LSTM", layer.get_weights()).values()
    expected = sum(W.sum() ** 2 + U.sum() ** 2 for W, U, _ in gates)
    assert float(sum(layer.penalties()).detach()) == pytest.approx(float(expected), rel=1e-4)


def test_model_weights_and_training_see_the_parameters():
    model = Sequential([LSTM(N, input_shape=(T, IN)), Dense(1)])
    lstm = model.layers[0]
    assert len(model.get_weights()) == 14
    assert [tuple(w.shape) for w in lstm.trainable_weights] == [(4 * N, IN), (4 * N, N), (4 * N,)]
    assert model.count_params() == lstm.count_params() + N + 1
    model.set_weights([0.1 * random(*w.shape, seed=k) for k, w in enumerate(model.get_weights())])
    before = lstm.get_weights()
    model.compile(torch.optim.SGD(model.parameters(), lr=0.5), "mse")
    model.train_on_batch(random(B, T, IN), np.ones((B, 1), "float32"))
    assert all(not np.allclose(a, b) for a, b in zip(before, lstm.get_weights(), strict=True))
    assert model._masked is False  # an LSTM alone makes no mask


# -- dropout ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "kwargs", "path"),
    [
        ("LSTM", {"dropout_W": 0.3, "dropout_U": 0.4}, "loop"),
        ("LSTM", {"dropout_W": 0.3}, "loop"),
        ("LSTM", {"dropout_W": 0.3, "consume_less": "gpu"}, "fused"),
        ("LSTM", {"dropout_W": 0.3, "dropout_U": 0.4, "consume_less": "gpu"}, "loop"),
        ("GRU", {"dropout_W": 0.3, "dropout_U": 0.4}, "loop"),
        ("GRU", {"dropout_W": 0.3, "dropout_U": 0.4, "consume_less": "gpu"}, "loop"),
        ("SimpleRNN", {"dropout_W": 0.3}, "fused"),
        ("SimpleRNN", {"dropout_W": 0.3, "dropout_U": 0.4}, "loop"),
    ],
)
def test_dropout_masks_per_gate_per_sequence(kind, kwargs, path):
    layer = make(kind, kwargs, return_sequences=True)
    assert layer.path == path and layer.uses_learning_phase
    x = random(B, T, IN)
    plain, _ = reference(kind, x, layer.get_weights(), return_sequences=True)
    layer.eval()
    np.testing.assert_allclose(run(layer, x), plain, rtol=1e-5, atol=1e-5)

    layer.train()
    masks = fixed_dropout_masks(layer)
    expected, _ = reference(kind, x, layer.get_weights(), return_sequences=True, **masks)
    np.testing.assert_allclose(run(layer, x), expected, rtol=1e-5, atol=1e-5)


def test_dropout_draws_while_training_only():
    layer = make("LSTM", {"dropout_W": 0.5, "dropout_U": 0.5})
    x = torch.as_tensor(random(B, T, IN))
    layer.train()
    masks_W, masks_U = layer._dropout_masks(x)
    assert masks_W.shape == (4, B, IN) and masks_U.shape == (4, B, N)
    assert set(np.unique(masks_W.numpy())) <= {0.0, 2.0}
    assert not torch.equal(layer(x), layer(x))
    layer.eval()
    assert layer._dropout_masks(x) == (None, None)


# -- the layer contract ---------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "kwargs", "path"), CASES, ids=CASE_IDS)
def test_check_layer(kind, kwargs, path):
    weights = [0.5 * random(*w.shape, seed=k) for k, w in enumerate(make(kind, kwargs).weights)]
    check_layer(
        LAYERS[kind],
        {"output_dim": N, "return_sequences": True, "weights": weights, **kwargs},
        input_shape=(B, T, IN),
        reference=lambda x, w: reference(
            kind, x, w, **activations_of(kind, kwargs), return_sequences=True
        )[0],
        weights_count=len(weights),
    )


def test_config_has_every_keras_argument():
    config = LSTM(N, input_dim=IN, input_length=T, inner_activation="hard_sigmoid").get_config()
    assert config == {
        "name": "lstm_1",
        "trainable": True,
        "batch_input_shape": [None, T, IN],
        "input_dtype": "float32",
        "return_sequences": False,
        "go_backwards": False,
        "stateful": False,
        "unroll": False,
        "consume_less": "cpu",
        "input_dim": IN,
        "input_length": T,
        "output_dim": N,
        "init": "glorot_uniform",
        "inner_init": "orthogonal",
        "activation": "tanh",
        "W_regularizer": None,
        "U_regularizer": None,
        "b_regularizer": None,
        "dropout_W": 0.0,
        "dropout_U": 0.0,
        "inner_activation": "hard_sigmoid",
        "forget_bias_init": "one",
    }
    assert "inner_activation" not in SimpleRNN(N).get_config()
    assert LSTM(N, inner_activation=None).get_config()["inner_activation"] == "linear"


def test_path_is_logged_once_at_build(caplog):
    caplog.set_level(logging.DEBUG, logger="lamella.recurrent")
    make("LSTM", {})
    make("LSTM", {"inner_activation": "hard_sigmoid"})
    make("GRU", {})
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "LSTM lstm_1 takes the fused path",
        "LSTM lstm_2 takes the loop path: activation is tanh and inner_activation is "
        "hard_sigmoid; the kernel computes tanh and sigmoid",
        "GRU gru_1 takes the loop path: Keras 1's GRU resets h before the recurrent product; "
        "torch's fused GRU resets after it, a different function (GRU(reset_after=True) "
        "computes it)",
    ]


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: LSTM(0),
            ValueError,
            r"LSTM lstm_1: output_dim must be a positive integer, "
            r"got 0",
        ),
        (lambda: GRU(N, consume_less="fast"), ValueError, r"gru_1: consume_less must be one of"),
        (
            lambda: SimpleRNN(N, dropout_U=1.0),
            ValueError,
            r"simplernn_1: dropout_U must be a "
            r"fraction in \[0, 1\), got 1.0",
        ),
        (lambda: LSTM(N)(Input(shape=(T, IN, 2))), ValueError, r"lstm_1.*3 dimensions"),
        (lambda: LSTM(N)(Input(shape=(T, None))), ValueError, r"lstm_1: the last input axis"),
        (
            lambda: LSTM(N)(torch.zeros(B, 0, IN)),
            ValueError,
            r"lstm_1: expected input.*at "
            r"least one timestep",
        ),
        (
            lambda: LSTM(N)(torch.zeros(B, T, IN), torch.ones(B, T + 1)),
            ValueError,
            r"lstm_1: the mask must have shape \(batch, timesteps\) = \(3, 5\), got \(3, 6\)",
        ),
        (
            lambda: Recurrent()(torch.zeros(B, T, IN)),
            NotImplementedError,
            r"recurrent_1: Recurrent is abstract; subclass it or use SimpleRNN, GRU or LSTM",
        ),
    ],
)
def test_bad_input_names_the_layer(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_compute_mask_follows_return_sequences():
    mask = torch.ones(B, T, dtype=torch.bool)
    assert LSTM(N, return_sequences=True).compute_mask(None, mask) is mask
    assert LSTM(N).compute_mask(None, mask) is None


# -- wrappers ---------------------------------------------------------------------------


def test_time_distributed_dense_matches_numpy():
    def dense_each_step(x, weights):
        W, b = weights
        return x @ W + b

    out = check_layer(
        TimeDistributed,
        {"layer": Dense(3, input_dim=IN, weights=[random(IN, 3), random(3, seed=1)])},
        input_shape=(B, T, IN),
        reference=dense_each_step,
        weights_count=2,
    )
    assert out.shape == (B, T, 3)
    model = Sequential([TimeDistributed(Dense(3), input_shape=(T, 2, IN))])
    assert model.output_shape == (None, T, 2, 3)
    inner = model.layers[0].layer
    assert [w._keras_name for w in model.layers[0].weights] == [
        f"{inner.name}_W",
        f"{inner.name}_b",
    ]
    x = random(B, T, 2, IN)
    W, b = model.get_weights()
    np.testing.assert_allclose(model.predict(x), x @ W + b, rtol=1e-5, atol=1e-5)


def bidirectional_reference(x, weights, merge_mode, return_sequences, mask=None):
    half = len(weights) // 2
    forward, _ = reference("LSTM", x, weights[:half], return_sequences=return_sequences, mask=mask)
    backward, _ = reference(
        "LSTM", x, weights[half:], return_sequences=return_sequences, go_backwards=True, mask=mask
    )
    if return_sequences:
        backward = backward[:, ::-1]
    return {
        "concat": lambda: np.concatenate([forward, backward], -1),
        "sum": lambda: forward + backward,
        "mul": lambda: forward * backward,
        "ave": lambda: (forward + backward) / 2,
        None: lambda: [forward, backward],
    }[merge_mode]()


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merges_both_directions(merge_mode, return_sequences):
    weights = [0.5 * random(*w.shape, seed=k) for k, w in enumerate(2 * make("LSTM", {}).weights)]
    check_layer(
        Bidirectional,
        {
            "layer": LSTM(N, return_sequences=return_sequences),
            "merge_mode": merge_mode,
            "weights": weights,
        },
        input_shape=(B, T, IN),
        reference=lambda x, w: bidirectional_reference(x, w, merge_mode, return_sequences),
        weights_count=24,
    )


@pytest.mark.parametrize("mask_name", [None, "pre", "holes"])
def test_bidirectional_without_merge_returns_both_and_takes_masks(mask_name):
    layer = Bidirectional(LSTM(N, return_sequences=True), merge_mode=None)
    assert layer.get_output_shape_for((None, T, IN)) == [(None, T, N), (None, T, N)]
    layer(Input(shape=(T, IN)))
    randomize(layer)
    mask = None if mask_name is None else MASKS[mask_name]
    x = random(B, T, IN)
    got = layer(torch.as_tensor(x), None if mask is None else torch.as_tensor(mask).bool())
    expected = bidirectional_reference(x, layer.get_weights(), None, True, mask)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-5, atol=1e-5)
    boolean = torch.ones(B, T, dtype=torch.bool)
    assert layer.compute_mask(None, boolean) == [boolean, boolean]


def test_bidirectional_layers_names_and_config():
    model = Sequential([Bidirectional(LSTM(N, input_shape=(T, IN)), merge_mode="sum")])
    layer = model.layers[0]
    assert model.output_shape == (None, N)
    assert (layer.forward_layer.name, layer.backward_layer.name) == (
        "forward_lstm_1",
        "backward_lstm_1",
    )
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    names = [w._keras_name for w in layer.weights]
    assert names[0] == "forward_lstm_1_W_i" and names[12] == "backward_lstm_1_W_i"
    assert len(layer.trainable_weights) == 6
    config = layer.get_config()
    assert config["merge_mode"] == "sum"
    assert config["layer"]["class_name"] == "LSTM"
    assert config["layer"]["config"]["name"] == "lstm_1"
    rebuilt = Bidirectional.from_config(config)
    assert rebuilt.forward_layer.name == "forward_lstm_1"


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: Bidirectional(LSTM(N), merge_mode="max"),
            ValueError,
            r"bidirectional_1: merge_mode must be one of",
        ),
        (
            lambda: Bidirectional(Dense(N)),
            TypeError,
            r"bidirectional_1: layer must be a "
            r"recurrent layer.*Dense dense_1",
        ),
        (
            lambda: TimeDistributed("dense"),
            TypeError,
            r"timedistributed_1: layer must be a "
            r"lamella layer, got str",
        ),
        (
            lambda: TimeDistributed(Dense(N))(Input(shape=(IN,))),
            ValueError,
            r"timedistributed_1.*at least 3 dimensions",
        ),
    ],
)
def test_bad_wrapper_input_names_the_layer(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_stateful_bidirectional_resets_both():
    layer = Bidirectional(LSTM(N, stateful=True, batch_input_shape=(B, T, IN)))
    model = Sequential([layer])
    model.predict(random(B, T, IN), batch_size=B)
    assert all(s.abs().sum() > 0 for inner in layer._sublayers() for s in inner.states)
    model.layers[0].reset_states()
    assert all(not s.any() for inner in layer._sublayers() for s in inner.states)


def test_functional_model_with_bidirectional_and_time_distributed():
    inputs = Input(shape=(T, IN))
    hidden = Bidirectional(GRU(N, return_sequences=True))(inputs)
    outputs = TimeDistributed(Dense(2))(hidden)
    model = Model(inputs, outputs)
    assert model.output_shape == (None, T, 2)
    x = random(B, T, IN)
    weights = model.get_weights()
    gru = weights[:18]
    forward, _ = reference("GRU", x, gru[:9], return_sequences=True)
    backward, _ = reference("GRU", x, gru[9:], return_sequences=True, go_backwards=True)
    W, b = weights[18:]
    expected = np.concatenate([forward, backward[:, ::-1]], -1) @ W + b
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.parametrize(("kind", "kwargs", "path"), CASES, ids=CASE_IDS)
def test_cuda_matches_cpu_without_compacting_weights(kind, kwargs, path, recwarn):
    layer = make(kind, kwargs, return_sequences=True)
    x, mask = random(B, T, IN), torch.as_tensor(MASKS["pre"]).bool()
    on_cpu = run(layer, x, MASKS["pre"])
    layer.to("cuda")
    on_gpu = layer(torch.as_tensor(x).cuda(), mask.cuda()).detach().cpu().numpy()
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-4)
    assert not [w for w in recwarn if "contiguous chunk of memory" in str(w.message)]
