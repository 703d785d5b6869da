"""``GRU(reset_after=True)``: Keras 2/3's GRU, on torch's fused kernel where it can be.

Two independent references: a float64 numpy GRU with every gate written out, reading
the layer's Keras-order ``get_weights()`` arrays, and ``torch.nn.GRU`` given the same
arrays rearranged into torch's gate order by hand (so a mistake in the layer's own
storage order shows up against both).
"""

from __future__ import annotations

import json
import logging

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
    sigmoid,
    unroll,
)

from lamella.engine.topology import Input
from lamella.models import Sequential, model_from_json
from lamella.recurrent.recurrent import GRU
from lamella.recurrent.wrappers import Bidirectional
from lamella.regularizers import l2
from lamella.testing import check_layer

KERAS_ORDER = [f"{kind}_{gate}" for gate in "zrh" for kind in ("W", "U", "b", "bU")]

# -- the numpy reference ----------------------------------------------------------------


def reference(
    x,
    weights,
    activation="tanh",
    inner_activation="sigmoid",
    dropout_W=None,
    dropout_U=None,
    **options,
):
    """Keras 2/3's reset-after GRU: (output, final h); ``options`` (return_sequences,
    go_backwards, mask) as ``unroll`` takes them.

    ``weights`` are the 12 arrays ``W_g, U_g, b_g, bU_g`` for g in z, r, h; the dropout
    masks, {gate: (batch, dim)}, multiply the input / the state seen by each gate.
    """
    (W_z, U_z, b_z, bU_z, W_r, U_r, b_r, bU_r, W_h, U_h, b_h, bU_h) = (
        np.asarray(w, dtype="float64") for w in weights
    )
    act, sig = NP_ACTIVATIONS[activation], NP_ACTIVATIONS[inner_activation]
    dw = dropout_W or {"z": 1.0, "r": 1.0, "h": 1.0}
    du = dropout_U or {"z": 1.0, "r": 1.0, "h": 1.0}
    x = np.asarray(x, dtype="float64")

    def step(x_t, states):
        h = states[0]
        z = sig((x_t * dw["z"]) @ W_z + b_z + (h * du["z"]) @ U_z + bU_z)
        r = sig((x_t * dw["r"]) @ W_r + b_r + (h * du["r"]) @ U_r + bU_r)
        hh = act((x_t * dw["h"]) @ W_h + b_h + r * ((h * du["h"]) @ U_h + bU_h))
        return [z * h + (1.0 - z) * hh]

    output, (h,) = unroll(step, x, [np.zeros((x.shape[0], U_z.shape[0]))], **options)
    return output, h


def keras1_reference(x, weights):
    """Keras 1's GRU (reset before U_h) from its 9 per-gate arrays, sigmoid gates."""
    (W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h) = (np.asarray(w, "float64") for w in weights)
    h = np.zeros((x.shape[0], U_z.shape[0]))
    for t in range(x.shape[1]):
        x_t = x[:, t]
        z = sigmoid(x_t @ W_z + b_z + h @ U_z)
        r = sigmoid(x_t @ W_r + b_r + h @ U_r)
        h = z * h + (1 - z) * np.tanh(x_t @ W_h + b_h + (r * h) @ U_h)
    return h


# -- helpers ----------------------------------------------------------------------------


def make(kwargs=None, seed=1, **extra):
    layer = GRU(N, reset_after=True, **(kwargs or {}), **extra)
    layer(Input(shape=(None, IN)))
    randomize(layer, seed)
    return layer


def activations_of(kwargs):
    return {
        "activation": kwargs.get("activation", "tanh"),
        "inner_activation": kwargs.get("inner_activation", "sigmoid"),
    }


def torch_gru(weights):
    """``torch.nn.GRU`` holding the 12 Keras arrays, rearranged into r, z, n by hand."""
    arrays = dict(zip(KERAS_ORDER, (torch.as_tensor(w) for w in weights), strict=True))
    gru = torch.nn.GRU(IN, N, batch_first=True)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.cat([arrays[f"W_{g}"].T for g in "rzh"]))
        gru.weight_hh_l0.copy_(torch.cat([arrays[f"U_{g}"].T for g in "rzh"]))
        gru.bias_ih_l0.copy_(torch.cat([arrays[f"b_{g}"] for g in "rzh"]))
        gru.bias_hh_l0.copy_(torch.cat([arrays[f"bU_{g}"] for g in "rzh"]))
    return gru


CASES = [
    ({}, "fused"),
    ({"consume_less": "gpu"}, "fused"),
    ({"consume_less": "mem"}, "fused"),
    ({"inner_activation": "hard_sigmoid"}, "loop"),
    ({"activation": "relu", "consume_less": "gpu"}, "loop"),
]
CASE_IDS = ["-".join(map(str, kwargs.values())) or "default" for kwargs, _ in CASES]


# -- weights ----------------------------------------------------------------------------


@pytest.mark.parametrize("consume_less", ["cpu", "mem", "gpu"])
def test_weights_are_per_gate_views_of_torch_ordered_parameters(consume_less):
    layer = GRU(N, reset_after=True, consume_less=consume_less, input_shape=(T, IN))
    Sequential([layer])
    shapes = {"W": (IN, N), "U": (N, N), "b": (N,), "bU": (N,)}
    assert [(w._keras_name, tuple(w.shape)) for w in layer.weights] == [
        (f"gru_1_{name}", shapes[name.split("_")[0]]) for name in KERAS_ORDER
    ]
    assert [tuple(p.shape) for p in layer.trainable_weights] == [
        (3 * N, IN),
        (3 * N, N),
        (3 * N,),
        (3 * N,),
    ]
    assert layer.count_params() == 3 * (IN * N + N * N + 2 * N)
    arrays = [random(*w.shape, seed=k) for k, w in enumerate(layer.weights)]
    layer.set_weights(arrays)
    for got, sent in zip(layer.get_weights(), arrays, strict=True):
        np.testing.assert_array_equal(got, sent)
    # the Parameters stack torch's r, z, n blocks: what the fused kernel reads as they are
    given = dict(zip(KERAS_ORDER, arrays, strict=True))
    for block, gate in enumerate("rzh"):
        rows = slice(block * N, (block + 1) * N)
        np.testing.assert_array_equal(layer.weight_ih[rows].detach().numpy(), given[f"W_{gate}"].T)
        np.testing.assert_array_equal(layer.weight_hh[rows].detach().numpy(), given[f"U_{gate}"].T)
        np.testing.assert_array_equal(layer.bias[rows].detach().numpy(), given[f"b_{gate}"])
        np.testing.assert_array_equal(
            layer.recurrent_bias[rows].detach().numpy(), given[f"bU_{gate}"]
        )


def test_initial_values_and_the_bias_regularizer():
    layer = GRU(N, reset_after=True, b_regularizer=l2(0.5), input_shape=(T, IN))
    Sequential([layer])
    arrays = dict(zip(KERAS_ORDER, layer.get_weights(), strict=True))
    for gate in "zrh":
        assert not arrays[f"b_{gate}"].any() and not arrays[f"bU_{gate}"].any()
        assert np.abs(arrays[f"W_{gate}"]).max() <= np.sqrt(6 / (IN + N))
        U = arrays[f"U_{gate}"]
        np.testing.assert_allclose(U.T @ U, 1.21 * np.eye(N), atol=1e-5)
    layer.set_weights([random(*w.shape, seed=k) for k, w in enumerate(layer.weights)])
    arrays = dict(zip(KERAS_ORDER, layer.get_weights(), strict=True))
    expected = 0.5 * sum((arrays[f"{b}_{g}"] ** 2).sum() for b in ("b", "bU") for g in "zrh")
    assert float(sum(layer.penalties()).detach()) == pytest.approx(expected, rel=1e-5)


# -- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize(("kwargs", "path"), CASES, ids=CASE_IDS)
def test_matches_the_reset_after_equations(kwargs, path, return_sequences, go_backwards):
    options = {"return_sequences": return_sequences, "go_backwards": go_backwards}
    layer = make(kwargs, **options)
    assert layer.path == path
    x = random(B, T, IN)
    expected, _ = reference(x, layer.get_weights(), **activations_of(kwargs), **options)
    np.testing.assert_allclose(run(layer, x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("return_sequences", "go_backwards"),
    [(True, False), (True, True), (False, False), (False, True)],
)
@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize(("kwargs", "path"), CASES, ids=CASE_IDS)
def test_masked_steps_keep_the_state(kwargs, path, mask_name, return_sequences, go_backwards):
    options = {"return_sequences": return_sequences, "go_backwards": go_backwards}
    layer = make(kwargs, **options)
    x, mask = random(B, T, IN), MASKS[mask_name]
    expected, _ = reference(x, layer.get_weights(), **activations_of(kwargs), mask=mask, **options)
    np.testing.assert_allclose(run(layer, x, mask), expected, rtol=1e-5, atol=1e-5)


def test_embedding_mask_zero_reaches_the_gru():
    embeddings = pytest.importorskip("lamella.layers.embeddings")
    model = Sequential(
        [
            embeddings.Embedding(10, IN, input_length=T, mask_zero=True),
            GRU(N, reset_after=True, return_sequences=True),
        ]
    )
    gru = model.layers[1]
    randomize(gru, seed=0)
    tokens = np.array([[0, 0, 3, 4, 5], [1, 2, 0, 0, 0], [1, 2, 3, 4, 5], [0, 6, 7, 0, 8]])
    table = model.get_weights()[0]
    expected, _ = reference(
        table[tokens], gru.get_weights(), mask=tokens != 0, return_sequences=True
    )
    got = model.predict(tokens)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    unmasked, _ = reference(table[tokens], gru.get_weights(), return_sequences=True)
    assert not np.allclose(got, unmasked, atol=1e-3)


@pytest.mark.parametrize(("kwargs", "path"), CASES, ids=CASE_IDS)
def test_stateful_batches_continue_one_sequence(kwargs, path):
    model = Sequential(
        [
            GRU(
                N,
                reset_after=True,
                stateful=True,
                return_sequences=True,
                batch_input_shape=(B, None, IN),
                **kwargs,
            )
        ]
    )
    layer = model.layers[0]
    assert layer.path == path
    randomize(layer, seed=0)
    x = random(B, T, IN)
    first = model.predict(x[:, :3], batch_size=B)
    second = model.predict(x[:, 3:], batch_size=B)
    expected, h = reference(x, layer.get_weights(), **activations_of(kwargs), return_sequences=True)
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected, atol=1e-5)
    np.testing.assert_allclose(layer.states[0].numpy(), h, atol=1e-5)
    layer.reset_states()
    assert not layer.states[0].any()
    np.testing.assert_allclose(model.predict(x[:, :3], batch_size=B), first, atol=1e-6)
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "mse")
    model.train_on_batch(x[:, :2], np.zeros((B, 2, N), "float32"))


# -- the two paths, and torch's own GRU -------------------------------------------------


def _sigmoid_callable(v):
    return torch.sigmoid(v)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_name", [None, "post", "pre"])
@pytest.mark.parametrize("forced_by", ["switch", "callable"])
def test_fused_and_loop_paths_agree(forced_by, mask_name, go_backwards):
    """Same weights, same maths: outputs and every gradient match."""
    fused = make(return_sequences=True, go_backwards=go_backwards)
    if forced_by == "switch":
        loop = make(return_sequences=True, go_backwards=go_backwards)
        loop._use_fused = False
    else:  # sigmoid, but not one the layer knows the kernel computes
        loop = make(
            return_sequences=True, go_backwards=go_backwards, inner_activation=_sigmoid_callable
        )
    loop.set_weights(fused.get_weights())
    assert (fused.path, loop.path) == ("fused", "loop")
    x = random(B, T, IN)
    mask = None if mask_name is None else MASKS[mask_name]
    results = [outputs_and_gradients(layer, x, mask) for layer in (fused, loop)]
    assert len(results[0]) == 6  # output, input, weight_ih, weight_hh, bias, recurrent_bias
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("use_fused", [True, False])
def test_torch_nn_gru_computes_the_same(use_fused):
    layer = make(return_sequences=True)
    layer._use_fused = use_fused
    reference_gru = torch_gru(layer.get_weights())
    x = torch.as_tensor(random(B, T, IN))
    with torch.no_grad():
        sequence, last = reference_gru(x)
        torch.testing.assert_close(layer(x), sequence, rtol=1e-5, atol=1e-5)
        layer.go_backwards = True
        torch.testing.assert_close(layer(x), reference_gru(x.flip(1))[0], rtol=1e-5, atol=1e-5)
        # post-padding: each sample's final h is nn.GRU's over its kept steps alone
        layer.go_backwards, layer.return_sequences = False, False
        mask = torch.as_tensor(MASKS["post"]).bool()
        finals = layer(x, mask)
        for sample, length in enumerate(mask.sum(1).tolist()):
            _, h = reference_gru(x[sample : sample + 1, :length])
            torch.testing.assert_close(finals[sample], h[0, 0], rtol=1e-5, atol=1e-5)
    assert last.shape == (1, B, N)


def test_reset_after_false_is_keras_1s_gru_unchanged():
    plain = GRU(N, input_shape=(T, IN))
    Sequential([plain])
    assert plain.reset_after is False and plain.path == "loop"
    assert not hasattr(plain, "recurrent_bias") and len(plain.weights) == 9
    assert "reset_after" not in plain.get_config()
    randomize(plain, seed=0)
    x = random(B, T, IN)
    got = run(plain, x)
    np.testing.assert_allclose(got, keras1_reference(x, plain.get_weights()), atol=1e-5)
    # the same W, U, b with a zero recurrent bias: the reset-after maths differs
    after = make()
    per_gate = [plain.get_weights()[3 * k : 3 * k + 3] for k in range(3)]
    after.set_weights([a for W, U, b in per_gate for a in (W, U, b, np.zeros(N, "float32"))])
    assert not np.allclose(run(after, x), got, atol=1e-3)


# -- dropout ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"dropout_W": 0.3}, "loop"),
        ({"dropout_W": 0.3, "consume_less": "gpu"}, "fused"),
        ({"dropout_U": 0.4}, "loop"),
        ({"dropout_W": 0.3, "dropout_U": 0.4, "consume_less": "gpu"}, "loop"),
    ],
)
def test_dropout_masks(kwargs, path):
    layer = make(kwargs, return_sequences=True)
    assert layer.path == path
    x = random(B, T, IN)
    plain, _ = reference(x, layer.get_weights(), return_sequences=True)
    layer.eval()
    np.testing.assert_allclose(run(layer, x), plain, rtol=1e-5, atol=1e-5)

    layer.train()
    assert layer.gates == "rzh"  # the Parameters' blocks, which the masks' blocks go with
    masks = fixed_dropout_masks(layer)
    expected, _ = reference(x, layer.get_weights(), return_sequences=True, **masks)
    np.testing.assert_allclose(run(layer, x), expected, rtol=1e-5, atol=1e-5)


# -- configuration, the layer contract, files ---------------------------------------------


@pytest.mark.parametrize(("kwargs", "path"), CASES, ids=CASE_IDS)
def test_check_layer(kwargs, path):
    weights = [0.5 * random(*w.shape, seed=k) for k, w in enumerate(make(kwargs).weights)]
    check_layer(
        GRU,
        {
            "output_dim": N,
            "reset_after": True,
            "return_sequences": True,
            "weights": weights,
            **kwargs,
        },
        input_shape=(B, T, IN),
        reference=lambda x, w: reference(x, w, **activations_of(kwargs), return_sequences=True)[0],
        weights_count=12,
    )


def test_config_json_round_trip():
    model = Sequential(
        [
            GRU(N, reset_after=True, return_sequences=True, input_shape=(T, IN)),
            Bidirectional(GRU(3, reset_after=True)),
        ]
    )
    assert model.layers[0].get_config()["reset_after"] is True
    assert model.layers[1].backward_layer.reset_after
    randomize(model, seed=0)
    rebuilt = model_from_json(model.to_json())
    assert json.loads(rebuilt.to_json()) == json.loads(model.to_json())
    assert [rebuilt.layers[0].path, rebuilt.layers[1].forward_layer.path] == ["fused", "fused"]
    rebuilt.set_weights(model.get_weights())
    x = random(B, T, IN)
    np.testing.assert_allclose(rebuilt.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)


@pytest.mark.requires("lamella-io-hdf5")
def test_h5_round_trip(tmp_path):
    from lamella.models import load_model

    model = Sequential([GRU(N, reset_after=True, input_shape=(T, IN))])
    randomize(model, seed=0)
    model.save(tmp_path / "gru.h5")
    loaded = load_model(tmp_path / "gru.h5", compile=False)
    assert loaded.layers[0].reset_after and loaded.layers[0].path == "fused"
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = random(B, T, IN)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_path_is_logged_with_the_reason(caplog):
    caplog.set_level(logging.DEBUG, logger="lamella.recurrent")
    make()
    make({"inner_activation": "hard_sigmoid"})
    GRU(N)(Input(shape=(T, IN)))
    assert [r.getMessage() for r in caplog.records] == [
        "GRU gru_1 takes the fused path",
        "GRU gru_2 takes the loop path: activation is tanh and inner_activation is "
        "hard_sigmoid; the kernel computes tanh and sigmoid",
        "GRU gru_3 takes the loop path: Keras 1's GRU resets h before the recurrent product; "
        "torch's fused GRU resets after it, a different function (GRU(reset_after=True) "
        "computes it)",
    ]


@pytest.mark.parametrize("value", ["yes", 2, None])
def test_reset_after_must_be_a_bool(value):
    with pytest.raises(ValueError, match=r"GRU gru_1: reset_after must be True or False"):
        GRU(N, reset_after=value)


@pytest.mark.cuda
@pytest.mark.parametrize("mask_name", [None, "pre", "holes"])
def test_cuda_matches_cpu_without_compacting_weights(mask_name, recwarn):
    layer = make(return_sequences=True)
    x = random(B, T, IN)
    mask = None if mask_name is None else MASKS[mask_name]
    on_cpu = run(layer, x, mask)
    layer.to("cuda")
    cuda_mask = None if mask is None else torch.as_tensor(mask).bool().cuda()
    on_gpu = layer(torch.as_tensor(x).cuda(), cuda_mask).detach().cpu().numpy()
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-4)
    assert not [w for w in recwarn if "contiguous chunk of memory" in str(w.message)]
