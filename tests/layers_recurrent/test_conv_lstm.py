"""ConvLSTM2D against a numpy reference of Keras 1.2.2's equations, written gate by gate.

The reference convolves with direct loops over output positions (a cross-correlation,
TensorFlow's 'same' padding with the odd cell at the end), takes the weights in Keras 1's
``get_weights()`` layout and order (W_i, U_i, b_i, W_c, ...; kernels 'th' (out, in, rows,
cols), 'tf' (rows, cols, in, out)) and implements Keras's masking: a masked step keeps
the states and outputs the previous h.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from recurrent_helpers import NP_ACTIVATIONS

from lamella.engine.serialization import layer_from_config, layer_to_config
from lamella.engine.topology import Input
from lamella.engine.training import Model
from lamella.layers import ConvLSTM2D as FromLayers
from lamella.layers.convolutional_recurrent import ConvLSTM2D as FromFacade
from lamella.layers.convolutional_recurrent import ConvRecurrent2D as BaseFromFacade
from lamella.layers.core import Dense, Flatten
from lamella.models import Sequential
from lamella.recurrent.convolutional_recurrent import ConvLSTM2D, ConvRecurrent2D
from lamella.regularizers import l1, l2
from lamella.testing import check_layer

B, T, C, H, W, F = 2, 3, 2, 5, 4, 3  # batch, time, channels, rows, cols, nb_filter
ROWS, COLS = 3, 2  # an even kernel axis gives 'same' its asymmetric padding
KERAS_ORDER = "icfo"


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def frames(dim_ordering, batch=B, steps=T, seed=0):
    shape = (batch, steps, C, H, W) if dim_ordering == "th" else (batch, steps, H, W, C)
    return random(*shape, seed=seed)


def keras_weights(dim_ordering, seed=1):
    """Random arrays in Keras 1's ConvLSTM2D layout and order."""
    if dim_ordering == "th":
        kernel_W, kernel_U = (F, C, ROWS, COLS), (F, F, ROWS, COLS)
    else:
        kernel_W, kernel_U = (ROWS, COLS, C, F), (ROWS, COLS, F, F)
    shapes = [kernel_W, kernel_U, (F,)] * 4
    return [0.4 * random(*shape, seed=seed + k) for k, shape in enumerate(shapes)]


# -- the reference ----------------------------------------------------------------------


def np_conv(x, kernel, stride, border_mode):
    """``x (b, in, rows, cols) ⋆ kernel (out, in, kr, kc)`` by a loop over output positions."""
    _, _, rows, cols = x.shape
    _, _, kr, kc = kernel.shape
    pads = []
    for size, k, s in ((rows, kr, stride[0]), (cols, kc, stride[1])):
        if border_mode == "valid":
            pads.append((0, 0))
        else:
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    out_rows = (x.shape[2] - kr) // stride[0] + 1
    out_cols = (x.shape[3] - kc) // stride[1] + 1
    out = np.zeros((x.shape[0], kernel.shape[0], out_rows, out_cols))
    for r in range(out_rows):
        for c in range(out_cols):
            patch = x[:, :, r * stride[0] : r * stride[0] + kr, c * stride[1] : c * stride[1] + kc]
            out[:, :, r, c] = np.einsum("bixy,oixy->bo", patch, kernel)
    return out


def reference(
    x,
    weights,
    dim_ordering,
    border_mode="valid",
    subsample=(1, 1),
    activation="tanh",
    inner_activation="hard_sigmoid",
    return_sequences=False,
    go_backwards=False,
    mask=None,
    initial=None,
    dropout_W=None,
    dropout_U=None,
):
    """Keras 1.2.2's ConvLSTM2D: (output, [h, c]) in the layer's ordering.

    ``initial`` ([h, c], layer ordering) defaults to zeros; ``dropout_W``/``dropout_U`` are
    {gate: mask} over a channels-first input frame / state, the same at every step.
    """
    tf = dim_ordering == "tf"
    x = np.asarray(x, "float64")
    if tf:  # everything below is channels first
        x = x.transpose(0, 1, 4, 2, 3)
    arrays = [np.asarray(w, "float64") for w in weights]
    gates = {}
    for k, gate in enumerate(KERAS_ORDER):
        W_g, U_g, b_g = arrays[3 * k : 3 * k + 3]
        if tf:
            W_g, U_g = W_g.transpose(3, 2, 0, 1), U_g.transpose(3, 2, 0, 1)
        gates[gate] = (W_g, U_g, b_g)
    act, sig = NP_ACTIVATIONS[activation], NP_ACTIVATIONS[inner_activation]
    ones = {g: 1.0 for g in KERAS_ORDER}
    dW, dU = dropout_W or ones, dropout_U or ones

    def pre(g, x_t, h):
        W_g, U_g, b_g = gates[g]
        from_x = np_conv(x_t * dW[g], W_g, subsample, border_mode) + b_g[None, :, None, None]
        return from_x + np_conv(h * dU[g], U_g, (1, 1), "same")

    state_shape = np_conv(x[:, 0], gates["i"][0], subsample, border_mode).shape
    if initial is None:
        h, c = np.zeros(state_shape), np.zeros(state_shape)
    else:
        h, c = (np.asarray(s, "float64") for s in initial)
        if tf:
            h, c = h.transpose(0, 3, 1, 2), c.transpose(0, 3, 1, 2)
    outputs = []
    for t in reversed(range(x.shape[1])) if go_backwards else range(x.shape[1]):
        i = sig(pre("i", x[:, t], h))
        f = sig(pre("f", x[:, t], h))
        new_c = f * c + i * act(pre("c", x[:, t], h))
        o = sig(pre("o", x[:, t], h))
        new_h = o * act(new_c)
        if mask is not None:
            keep = np.asarray(mask, bool)[:, t, None, None, None]
            new_h, new_c = np.where(keep, new_h, h), np.where(keep, new_c, c)
        h, c = new_h, new_c
        outputs.append(h)
    y = np.stack(outputs, 1) if return_sequences else h
    if tf:
        y = np.moveaxis(y, -3, -1)
        h, c = np.moveaxis(h, 1, -1), np.moveaxis(c, 1, -1)
    return y, [h, c]


# -- the maths --------------------------------------------------------------------------

CASES = [
    {"dim_ordering": "th"},
    {"dim_ordering": "tf"},
    {"dim_ordering": "th", "border_mode": "same", "return_sequences": True},
    {"dim_ordering": "tf", "border_mode": "same", "subsample": (2, 2)},
    {"dim_ordering": "th", "subsample": (2, 1), "go_backwards": True, "return_sequences": True},
    {
        "dim_ordering": "tf",
        "border_mode": "same",
        "go_backwards": True,
        "inner_activation": "sigmoid",
        "activation": "relu",
    },
]


def case_id(kwargs):
    return "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_matches_keras_gate_by_gate(kwargs):
    """Shapes, numbers, config round trip and gradients (check_layer), both orderings,
    'valid' and 'same', strides, return_sequences and go_backwards."""
    weights = keras_weights(kwargs["dim_ordering"])
    reference_kwargs = {k: v for k, v in kwargs.items() if k != "dim_ordering"}
    check_layer(
        ConvLSTM2D,
        {"nb_filter": F, "nb_row": ROWS, "nb_col": COLS, "weights": weights, **kwargs},
        input_data=frames(kwargs["dim_ordering"]),
        reference=lambda x, w: reference(x, w, kwargs["dim_ordering"], **reference_kwargs)[0],
        weights_count=12,
    )


@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_steps_keep_the_states(dim_ordering, return_sequences, go_backwards):
    layer = ConvLSTM2D(
        F,
        ROWS,
        COLS,
        dim_ordering=dim_ordering,
        border_mode="same",
        return_sequences=return_sequences,
        go_backwards=go_backwards,
        weights=keras_weights(dim_ordering),
    )
    x = frames(dim_ordering)
    mask = np.array([[1, 0, 1], [0, 1, 1]], bool)  # a hole, and a padded start
    with torch.no_grad():
        got = layer(torch.as_tensor(x), torch.as_tensor(mask)).numpy()
        unmasked = layer(torch.as_tensor(x)).numpy()
    expected, _ = reference(
        x,
        layer.get_weights(),
        dim_ordering,
        "same",
        return_sequences=return_sequences,
        go_backwards=go_backwards,
        mask=mask,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(got, unmasked, atol=1e-3)
    assert layer.compute_mask(x, mask) is (mask if return_sequences else None)


def test_wrong_mask_shape_is_named():
    layer = ConvLSTM2D(F, ROWS, COLS, dim_ordering="th", name="clstm")
    with pytest.raises(ValueError, match=r"clstm: the mask must have shape \(batch, time\)"):
        layer(torch.as_tensor(frames("th")), torch.ones(B, T + 1, dtype=torch.bool))


# -- stateful ---------------------------------------------------------------------------


@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
def test_stateful_batches_continue_one_sequence(dim_ordering):
    x = frames(dim_ordering, steps=4)
    model = Sequential(
        [
            ConvLSTM2D(
                F,
                ROWS,
                COLS,
                dim_ordering=dim_ordering,
                border_mode="same",
                stateful=True,
                return_sequences=True,
                batch_input_shape=(B, None, *x.shape[2:]),
                weights=keras_weights(dim_ordering),
            )
        ]
    )
    layer = model.layers[0]
    first = model.predict(x[:, :2], batch_size=B)
    second = model.predict(x[:, 2:], batch_size=B)
    expected, states = reference(
        x, layer.get_weights(), dim_ordering, "same", return_sequences=True
    )
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected, atol=1e-5)
    for kept, value in zip(layer.states, states, strict=True):
        np.testing.assert_allclose(kept.numpy(), value, atol=1e-5)
    # the second batch alone, from the first batch's final states
    later, _ = reference(
        x[:, 2:],
        layer.get_weights(),
        dim_ordering,
        "same",
        return_sequences=True,
        initial=reference(x[:, :2], layer.get_weights(), dim_ordering, "same")[1],
    )
    np.testing.assert_allclose(second, later, atol=1e-5)

    model.reset_states()
    assert all(not s.any() for s in layer.states)
    np.testing.assert_allclose(model.predict(x[:, :2], batch_size=B), first, atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(model.predict(x[:, :2], batch_size=B), first, atol=1e-6)
    # states written by predict (inference mode) must not break training afterwards
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "mse")
    model.train_on_batch(x[:, :2], np.zeros_like(first))


def test_stateful_needs_a_batch_size_and_keeps_to_it():
    with pytest.raises(ValueError, match=r"convlstm2d_1: a stateful layer needs its batch size"):
        Sequential(
            [ConvLSTM2D(F, ROWS, COLS, dim_ordering="th", stateful=True, input_shape=(T, C, H, W))]
        )
    model = Sequential(
        [
            ConvLSTM2D(
                F, ROWS, COLS, dim_ordering="th", stateful=True, batch_input_shape=(B, T, C, H, W)
            )
        ]
    )
    with pytest.raises(ValueError, match=r"keeps states of shape \(2, 3, 3, 3\)"):
        model.predict(frames("th", batch=1), batch_size=1)
    with pytest.raises(RuntimeError, match=r"convlstm2d_3: reset_states\(\) needs stateful=True"):
        ConvLSTM2D(F, ROWS, COLS).reset_states()


# -- dropout ----------------------------------------------------------------------------


@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
def test_dropout_is_identity_when_not_training(dim_ordering):
    layer = ConvLSTM2D(
        F,
        ROWS,
        COLS,
        dim_ordering=dim_ordering,
        dropout_W=0.5,
        dropout_U=0.5,
        weights=keras_weights(dim_ordering),
    )
    assert layer.uses_learning_phase
    model = Model(*(lambda i: (i, layer(i)))(Input(shape=frames(dim_ordering).shape[1:])))
    x = frames(dim_ordering)
    expected, _ = reference(x, layer.get_weights(), dim_ordering)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
def test_dropout_while_training_uses_one_mask_per_gate_and_sample(dim_ordering):
    layer = ConvLSTM2D(
        F,
        ROWS,
        COLS,
        dim_ordering=dim_ordering,
        border_mode="same",
        return_sequences=True,
        dropout_W=0.4,
        dropout_U=0.3,
        weights=keras_weights(dim_ordering),
    )
    layer(torch.as_tensor(frames(dim_ordering)))  # build, and apply the weights
    drawn = []
    draw = layer._dropout_masks
    layer._dropout_masks = lambda x: drawn.append(draw(x)) or drawn[-1]
    layer.train()
    x = torch.as_tensor(frames(dim_ordering))
    torch.manual_seed(0)
    got = layer(x).detach().numpy()
    torch.manual_seed(0)
    np.testing.assert_array_equal(layer(x).detach().numpy(), got)  # a fixed seed repeats

    masks_W, masks_U = (m.numpy() for m in drawn[0])
    assert masks_W.shape == (4, B, C, H, W) and masks_U.shape == (4, B, F, H, W)
    for masks, p in ((masks_W, 0.4), (masks_U, 0.3)):
        np.testing.assert_allclose(np.unique(masks), [0.0, 1 / (1 - p)], rtol=1e-6)
        assert not np.array_equal(masks[0], masks[1])  # gates have masks of their own
    by_gate = dict(zip("ifco", range(4), strict=True))  # the masks' blocks: Keras's step order
    expected, _ = reference(
        frames(dim_ordering),
        layer.get_weights(),
        dim_ordering,
        "same",
        return_sequences=True,
        dropout_W={g: masks_W[k] for g, k in by_gate.items()},
        dropout_U={g: masks_U[k] for g, k in by_gate.items()},
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    layer.eval()
    assert not np.allclose(layer(x).detach().numpy(), got, atol=1e-3)


# -- weights, config, files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim_ordering", "kernel_W", "kernel_U"),
    [
        ("th", (F, C, ROWS, COLS), (F, F, ROWS, COLS)),
        ("tf", (ROWS, COLS, C, F), (ROWS, COLS, F, F)),
    ],
)
def test_weights_are_keras_arrays_in_keras_order(dim_ordering, kernel_W, kernel_U):
    layer = ConvLSTM2D(F, ROWS, COLS, dim_ordering=dim_ordering, forget_bias_init="one")
    layer(Input(shape=frames(dim_ordering).shape[1:]))
    expected = [
        (f"convlstm2d_1_{kind}_{gate}", shape)
        for gate in "icfo"
        for kind, shape in (("W", kernel_W), ("U", kernel_U), ("b", (F,)))
    ]
    assert [(w._keras_name, tuple(w.shape)) for w in layer.weights] == expected
    assert layer.trainable_weights == layer.weights
    assert layer.count_params() == 4 * (F * C * ROWS * COLS + F * F * ROWS * COLS + F)
    biases = dict(zip("icfo", layer.get_weights()[2::3], strict=True))
    assert all(biases[g].tolist() == [1.0 if g == "f" else 0.0] * F for g in "icfo")
    arrays = keras_weights(dim_ordering)
    layer.set_weights(arrays)
    for got, want in zip(layer.get_weights(), arrays, strict=True):
        np.testing.assert_array_equal(got, want)


def test_regularizers_penalise_every_gate():
    layer = ConvLSTM2D(
        F,
        ROWS,
        COLS,
        dim_ordering="th",
        W_regularizer=l1(0.01),
        U_regularizer=l2(0.02),
        b_regularizer=l1(0.5),
        weights=keras_weights("th"),
    )
    layer(Input(shape=(T, C, H, W)))
    arrays = keras_weights("th")
    expected = (
        0.01 * sum(np.abs(a).sum() for a in arrays[0::3])
        + 0.02 * sum(np.square(a).sum() for a in arrays[1::3])
        + 0.5 * sum(np.abs(a).sum() for a in arrays[2::3])
    )
    assert float(sum(layer.penalties()).detach()) == pytest.approx(expected, rel=1e-5)


def test_config_round_trip():
    layer = ConvLSTM2D(
        F,
        ROWS,
        COLS,
        dim_ordering="tf",
        border_mode="same",
        subsample=[2, 1],
        inner_activation="sigmoid",
        forget_bias_init="zero",
        U_regularizer=l2(0.01),
        dropout_U=0.25,
        return_sequences=True,
        go_backwards=True,
        name="video",
    )
    config = layer.get_config()
    assert config == {
        "name": "video",
        "trainable": True,
        "return_sequences": True,
        "go_backwards": True,
        "stateful": False,
        "nb_filter": F,
        "nb_row": ROWS,
        "nb_col": COLS,
        "dim_ordering": "tf",
        "border_mode": "same",
        "subsample": (2, 1),
        "init": "glorot_uniform",
        "inner_init": "orthogonal",
        "forget_bias_init": "zero",
        "activation": "tanh",
        "inner_activation": "sigmoid",
        "W_regularizer": None,
        "U_regularizer": l2(0.01).get_config(),
        "b_regularizer": None,
        "dropout_W": 0.0,
        "dropout_U": 0.25,
    }
    text = json.dumps(layer_to_config(layer))
    rebuilt = layer_from_config(json.loads(text))
    assert type(rebuilt) is ConvLSTM2D and rebuilt.get_config() == config


def test_keras_defaults_and_default_dim_ordering():
    from lamella import backend as K

    layer = ConvLSTM2D(F, ROWS, COLS)
    assert layer.dim_ordering == K.image_dim_ordering()
    assert (layer.border_mode, layer.subsample) == ("valid", (1, 1))
    config = layer.get_config()
    assert (config["inner_activation"], config["init"], config["inner_init"]) == (
        "hard_sigmoid",
        "glorot_uniform",
        "orthogonal",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nb_filter": 0}, r"nb_filter must be a positive integer, got 0"),
        ({"nb_row": 2.5}, r"nb_row must be a positive integer, got 2.5"),
        ({"border_mode": "full"}, r"border_mode must be 'valid' or 'same', got 'full'"),
        ({"subsample": (1, 0)}, r"subsample must be a tuple of 2 positive integers"),
        ({"dim_ordering": "channels_last"}, r"dim_ordering must be 'th', 'tf' or 'default'"),
        ({"dropout_U": 1.0}, r"dropout_U must be a fraction in \[0, 1\), got 1.0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"nb_filter": F, "nb_row": ROWS, "nb_col": COLS, "name": "clstm", **kwargs}
    with pytest.raises(ValueError, match=rf"ConvLSTM2D clstm: {message}"):
        ConvLSTM2D(**args)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"clstm: input frames of 5x4 are too small for a 6x2"):
        ConvLSTM2D(F, 6, COLS, dim_ordering="th", name="clstm")(Input(shape=(T, C, H, W)))
    with pytest.raises(ValueError, match=r"clstm2: expected 5D input"):
        ConvLSTM2D(F, ROWS, COLS, name="clstm2").call(torch.zeros(B, T, C))
    with pytest.raises(NotImplementedError, match=r"ConvRecurrent2D is abstract"):
        ConvRecurrent2D(nb_row=3, nb_col=3, nb_filter=2, dim_ordering="th")(
            Input(shape=(T, C, H, W))
        )


def test_module_paths():
    assert FromLayers is FromFacade is ConvLSTM2D
    assert BaseFromFacade is ConvRecurrent2D
    assert issubclass(ConvLSTM2D, ConvRecurrent2D)


@pytest.mark.requires("lamella-io-hdf5")
def test_h5_round_trip_in_keras_layout(tmp_path):
    import h5py

    from lamella.models import load_model

    model = Sequential(
        [
            ConvLSTM2D(
                F,
                ROWS,
                COLS,
                dim_ordering="tf",
                border_mode="same",
                input_shape=(T, H, W, C),
                weights=keras_weights("tf"),
            )
        ]
    )
    model.save(tmp_path / "clstm.h5")
    with h5py.File(tmp_path / "clstm.h5", "r") as f:
        group = f["model_weights"]["convlstm2d_1"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        assert names == [f"convlstm2d_1_{k}_{g}" for g in "icfo" for k in "WUb"]
        np.testing.assert_array_equal(group["convlstm2d_1_U_f"][()], keras_weights("tf")[7])
    loaded = load_model(tmp_path / "clstm.h5", compile=False)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    x = frames("tf")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)


# -- training ---------------------------------------------------------------------------


def test_a_tiny_model_learns():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, T, H, W, C)).astype("float32")
    y = (x[:, -1, ..., 0].mean(axis=(1, 2)) > 0).astype("float32")[:, None]
    model = Sequential(
        [
            ConvLSTM2D(
                F, ROWS, COLS, dim_ordering="tf", border_mode="same", input_shape=x.shape[1:]
            ),
            Flatten(),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(torch.optim.Adam(model.parameters(), lr=0.01), "binary_crossentropy")
    losses = model.fit(x, y, batch_size=8, nb_epoch=8, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]
