"""The conv layers inside models: shapes at add(), weight layouts, errors, gradients, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.constraints import NonNeg
from lamella.layers import (
    Activation,
    AtrousConvolution1D,
    AtrousConvolution2D,
    AveragePooling2D,
    Convolution1D,
    Convolution2D,
    Convolution3D,
    Cropping2D,
    Deconvolution2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    LocallyConnected1D,
    LocallyConnected2D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    SeparableConvolution2D,
    UpSampling2D,
    ZeroPadding2D,
)
from lamella.models import Sequential
from lamella.regularizers import l2

# -- shapes when a layer is added -----------------------------------------------------------

SHAPES = [
    # Keras 1's own documented examples
    (
        lambda: Convolution2D(
            64, 3, 3, border_mode="same", dim_ordering="th", input_shape=(3, 256, 256)
        ),
        (None, 64, 256, 256),
    ),
    (lambda: Convolution1D(64, 3, border_mode="same", input_shape=(10, 32)), (None, 10, 64)),
    (
        lambda: AtrousConvolution1D(64, 3, atrous_rate=2, border_mode="same", input_shape=(10, 32)),
        (None, 10, 64),
    ),
    (
        lambda: AtrousConvolution2D(
            64, 3, 3, atrous_rate=(2, 2), dim_ordering="th", input_shape=(3, 256, 256)
        ),
        (None, 64, 252, 252),
    ),
    (
        lambda: Deconvolution2D(
            3, 3, 3, output_shape=(None, 3, 14, 14), dim_ordering="th", input_shape=(3, 12, 12)
        ),
        (None, 3, 14, 14),
    ),
    (
        lambda: Deconvolution2D(
            3,
            3,
            3,
            output_shape=(None, 3, 25, 25),
            subsample=(2, 2),
            dim_ordering="th",
            input_shape=(3, 12, 12),
        ),
        (None, 3, 25, 25),
    ),
    (
        lambda: Cropping2D(((2, 2), (4, 4)), dim_ordering="th", input_shape=(3, 28, 28)),
        (None, 3, 24, 20),
    ),
    # ceil(L_eff / stride) for every border mode, even kernels and strides
    (
        lambda: Convolution2D(
            2, 4, 3, border_mode="same", subsample=(2, 2), dim_ordering="tf", input_shape=(7, 8, 3)
        ),
        (None, 4, 4, 2),
    ),
    (
        lambda: Convolution2D(
            2, 4, 3, border_mode="valid", subsample=(2, 3), dim_ordering="tf", input_shape=(7, 8, 3)
        ),
        (None, 2, 2, 2),
    ),
    (
        lambda: Convolution2D(
            2, 4, 3, border_mode="full", subsample=(2, 2), dim_ordering="th", input_shape=(3, 7, 8)
        ),
        (None, 2, 5, 5),
    ),
    (
        lambda: Convolution1D(
            5, 2, border_mode="full", subsample_length=3, input_dim=4, input_length=9
        ),
        (None, 4, 5),
    ),
    (lambda: Convolution1D(5, 3, input_dim=4), (None, None, 5)),
    (
        lambda: Convolution3D(
            4,
            3,
            2,
            2,
            border_mode="same",
            subsample=(2, 1, 2),
            dim_ordering="th",
            input_shape=(1, 5, 4, 3),
        ),
        (None, 4, 3, 4, 2),
    ),
    (
        lambda: SeparableConvolution2D(
            6,
            3,
            3,
            depth_multiplier=2,
            border_mode="valid",
            dim_ordering="tf",
            input_shape=(9, 9, 3),
        ),
        (None, 7, 7, 6),
    ),
    (
        lambda: MaxPooling2D(
            (3, 3), strides=(2, 2), border_mode="same", dim_ordering="th", input_shape=(2, 7, 8)
        ),
        (None, 2, 4, 4),
    ),
    (lambda: MaxPooling1D(pool_length=3, input_shape=(10, 4)), (None, 3, 4)),
    (lambda: MaxPooling3D(dim_ordering="tf", input_shape=(4, 5, 6, 2)), (None, 2, 2, 3, 2)),
    (lambda: GlobalAveragePooling2D(dim_ordering="tf", input_shape=(5, 6, 7)), (None, 7)),
    (
        lambda: UpSampling2D((2, 3), dim_ordering="th", input_shape=(2, None, 4)),
        (None, 2, None, 12),
    ),
    (
        lambda: ZeroPadding2D(
            {"top_pad": 1, "right_pad": 2}, dim_ordering="tf", input_shape=(4, 5, 3)
        ),
        (None, 5, 7, 3),
    ),
    (
        lambda: LocallyConnected1D(3, 2, subsample_length=2, input_dim=4, input_length=7),
        (None, 3, 3),
    ),
]


@pytest.mark.parametrize(("make", "expected"), SHAPES)
def test_output_shape_at_add(make, expected):
    model = Sequential()
    model.add(make())
    assert model.output_shape == expected


@pytest.mark.parametrize(
    ("ordering", "expected"), [("th", (None, 4, 6, 6)), ("tf", (None, 4, 6, 4))]
)
def test_default_ordering_is_read_at_construction(ordering, expected):
    before = K.image_dim_ordering()
    K.set_image_dim_ordering(ordering)
    try:
        layer = Convolution2D(4, 3, 3, input_shape=(6, 8, 8))
    finally:
        K.set_image_dim_ordering(before)
    assert layer.dim_ordering == ordering
    model = Sequential([layer])  # built after the setting changed back
    assert model.output_shape == expected


# -- weights: Keras 1's layouts and names ---------------------------------------------------

LAYOUTS = [
    (lambda: Convolution1D(4, 3, input_shape=(9, 2)), [("W", (3, 1, 2, 4)), ("b", (4,))]),
    (
        lambda: Convolution2D(4, 3, 2, dim_ordering="th", input_shape=(2, 6, 6)),
        [("W", (4, 2, 3, 2)), ("b", (4,))],
    ),
    (
        lambda: Convolution2D(4, 3, 2, dim_ordering="tf", input_shape=(6, 6, 2)),
        [("W", (3, 2, 2, 4)), ("b", (4,))],
    ),
    (
        lambda: Convolution3D(4, 3, 2, 1, dim_ordering="th", input_shape=(2, 5, 5, 5)),
        [("W", (4, 2, 3, 2, 1)), ("b", (4,))],
    ),
    (
        lambda: Convolution3D(4, 3, 2, 1, dim_ordering="tf", input_shape=(5, 5, 5, 2)),
        [("W", (3, 2, 1, 2, 4)), ("b", (4,))],
    ),
    (
        lambda: Deconvolution2D(4, 3, 2, (None, 4, 8, 7), dim_ordering="th", input_shape=(2, 6, 6)),
        [("W", (4, 2, 3, 2)), ("b", (4,))],
    ),
    (
        lambda: SeparableConvolution2D(
            4, 3, 2, depth_multiplier=3, dim_ordering="th", input_shape=(2, 6, 6)
        ),
        [("depthwise_kernel", (3, 2, 3, 2)), ("pointwise_kernel", (4, 6, 1, 1)), ("b", (4,))],
    ),
    (
        lambda: SeparableConvolution2D(
            4, 3, 2, depth_multiplier=3, dim_ordering="tf", input_shape=(6, 6, 2)
        ),
        [("depthwise_kernel", (3, 2, 2, 3)), ("pointwise_kernel", (1, 1, 6, 4)), ("b", (4,))],
    ),
    (lambda: LocallyConnected1D(4, 3, input_shape=(9, 2)), [("W", (7, 6, 4)), ("b", (7, 4))]),
    (
        lambda: LocallyConnected2D(4, 3, 2, dim_ordering="th", input_shape=(2, 6, 5)),
        [("W", (16, 12, 4)), ("b", (4, 4, 4))],
    ),
]


@pytest.mark.parametrize(("make", "expected"), LAYOUTS)
def test_weight_layout_and_names(make, expected):
    layer = make()
    Sequential([layer])
    assert [w.shape for w in layer.get_weights()] == [shape for _, shape in expected]
    assert [w._keras_name for w in layer.weights] == [f"{layer.name}_{n}" for n, _ in expected]


def test_initializers_read_fans_in_keras_1s_ordering():
    """Conv2D passes its ordering; Conv1D passes 'th' for its 'tf'-shaped kernel (Keras 1)."""
    seen = []

    def recording(shape, name=None, dim_ordering="th"):
        seen.append((shape, dim_ordering))
        return torch.nn.Parameter(torch.zeros(shape))

    Sequential([Convolution2D(2, 3, 3, init=recording, dim_ordering="tf", input_shape=(5, 5, 1))])
    Sequential([Convolution1D(2, 3, init=recording, input_shape=(5, 4))])
    assert seen == [((3, 3, 1, 2), "tf"), ((3, 1, 4, 2), "th")]


def test_tf_ordering_output_is_contiguous():
    """The 'tf' input goes to torch as a channels-last view; the output comes back dense."""
    layer = Convolution2D(4, 3, 3, border_mode="same", dim_ordering="tf")
    y = layer(torch.randn(2, 6, 6, 3))
    assert y.shape == (2, 6, 6, 4) and y.is_contiguous()


REGULARIZED = [
    (
        lambda r, c: Convolution2D(
            2,
            2,
            2,
            W_regularizer=r(0.1),
            b_regularizer=r(0.2),
            W_constraint=c(),
            b_constraint=c(),
            dim_ordering="tf",
            input_shape=(4, 4, 3),
        ),
        {"W": 0.1, "b": 0.2},
    ),
    (
        lambda r, c: SeparableConvolution2D(
            2,
            2,
            2,
            depthwise_regularizer=r(0.1),
            pointwise_regularizer=r(0.3),
            b_regularizer=r(0.2),
            depthwise_constraint=c(),
            pointwise_constraint=c(),
            b_constraint=c(),
            dim_ordering="th",
            input_shape=(3, 4, 4),
        ),
        {"depthwise_kernel": 0.1, "pointwise_kernel": 0.3, "b": 0.2},
    ),
    (
        lambda r, c: LocallyConnected1D(
            2,
            2,
            W_regularizer=r(0.1),
            b_regularizer=r(0.2),
            W_constraint=c(),
            b_constraint=c(),
            input_shape=(5, 3),
        ),
        {"W": 0.1, "b": 0.2},
    ),
]


@pytest.mark.parametrize(("make", "coefficients"), REGULARIZED)
def test_regularizers_and_constraints_reach_their_weights(make, coefficients):
    """Penalties are l2 * sum(w ** 2) per weight; each weight carries its own constraint."""
    layer = make(l2, NonNeg)
    Sequential([layer])
    with torch.no_grad():
        for weight in layer.weights:
            weight.uniform_(-1.0, 1.0)
    values = dict(zip(coefficients, layer.get_weights(), strict=True))
    expected = [c * float(np.square(values[name]).sum()) for name, c in coefficients.items()]
    np.testing.assert_allclose([p.item() for p in layer.penalties()], expected, rtol=1e-5)
    constrained = list(layer.constraints)
    assert len(constrained) == len(coefficients)
    assert all(getattr(layer, n) is w for n, w in zip(coefficients, constrained, strict=True))
    assert all(isinstance(c, NonNeg) for c in layer.constraints.values())


def test_activity_regularizer_penalizes_the_output():
    model = Sequential([Convolution1D(2, 2, activity_regularizer=l2(0.5), input_shape=(4, 3))])
    with torch.no_grad():
        y = model(torch.randn(2, 4, 3))
    (penalty,) = model.activity_penalties()
    assert penalty.item() == pytest.approx(0.5 * float(y.square().sum()), rel=1e-5)


# -- clear errors ------------------------------------------------------------------------


ERRORS = [
    (
        lambda: Convolution2D(4, 3, 3, border_mode="half", name="c"),
        r"Convolution2D c: border_mode must be 'valid' or 'same' or 'full', got 'half'",
    ),
    (
        lambda: MaxPooling2D(border_mode="full", name="p"),
        r"MaxPooling2D p: border_mode must be 'valid' or 'same', got 'full'",
    ),
    (
        lambda: Convolution2D(4, 3, 3, dim_ordering="channels_last", name="c"),
        r"Convolution2D c: dim_ordering must be 'th', 'tf' or 'default', got 'channels_last'",
    ),
    (
        lambda: Convolution2D(0, 3, 3, name="c"),
        r"Convolution2D c: nb_filter must be a positive integer, got 0",
    ),
    (
        lambda: Convolution3D(2, 3, 3, 2.5, name="c"),
        r"Convolution3D c: kernel_dim3 must be a positive integer, got 2.5",
    ),
    (
        lambda: Convolution2D(2, 3, 3, subsample=(1, 2, 3), name="c"),
        r"Convolution2D c: subsample must be an integer or a tuple of 2 positive integers, "
        r"got \(1, 2, 3\)",
    ),
    (
        lambda: AtrousConvolution1D(2, 3, atrous_rate=0, name="c"),
        r"AtrousConvolution1D c: atrous_rate must be a positive integer, got 0",
    ),
    (
        lambda: Cropping2D(((1, 1), (1, 1), (1, 1)), name="k"),
        r"Cropping2D k: cropping must be 2 \(before, after\) pairs",
    ),
    (lambda: ZeroPadding2D({"top": 1}, name="z"), r"ZeroPadding2D z: padding keys must be among"),
    (
        lambda: Deconvolution2D(3, 3, 3, output_shape=(14, 14), name="d"),
        r"Deconvolution2D d: output_shape must be the 4D output shape",
    ),
    (
        lambda: Deconvolution2D(
            3, 3, 3, output_shape=(None, 5, 14, 14), dim_ordering="th", name="d"
        ),
        r"Deconvolution2D d: output_shape \(None, 5, 14, 14\) has 5 channels but nb_filter is 3",
    ),
    (
        lambda: Sequential(
            [
                Deconvolution2D(
                    3,
                    3,
                    3,
                    output_shape=(None, 3, 15, 15),
                    dim_ordering="th",
                    input_shape=(3, 12, 12),
                    name="d",
                )
            ]
        ),
        r"Deconvolution2D d: output_shape \(None, 3, 15, 15\) does not fit an input of "
        r"spatial size \(12, 12\)",
    ),
    (
        lambda: Sequential(
            [Convolution2D(2, 5, 5, dim_ordering="th", input_shape=(1, 4, 6), name="c")]
        ),
        r"Convolution2D c: input spatial size \(4, 6\) is too small for a window of \(5, 5\)",
    ),
    (
        lambda: Sequential(
            [Cropping2D(((3, 2), (0, 0)), dim_ordering="tf", input_shape=(4, 4, 1), name="k")]
        ),
        r"Cropping2D k: input spatial size \(4, 4\) is too small",
    ),
    (
        lambda: Sequential(
            [Convolution2D(2, 3, 3, dim_ordering="tf", input_shape=(5, 5), name="c")]
        ),
        r"Input of layer c \(Convolution2D\) must have 4 dimensions",
    ),
]


@pytest.mark.parametrize(("make", "message"), ERRORS)
def test_bad_input_names_layer_argument_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# -- gradients ------------------------------------------------------------------------------

GRADIENT_CASES = [
    (
        lambda: Convolution2D(2, 2, 3, border_mode="same", subsample=(2, 1), dim_ordering="tf"),
        (2, 5, 4, 2),
    ),
    (lambda: AtrousConvolution1D(2, 2, atrous_rate=2, border_mode="full"), (2, 6, 3)),
    (lambda: Convolution3D(2, 2, 2, 1, border_mode="same", dim_ordering="th"), (1, 2, 3, 3, 2)),
    (
        lambda: SeparableConvolution2D(
            3, 2, 2, depth_multiplier=2, border_mode="same", dim_ordering="th"
        ),
        (1, 2, 4, 3),
    ),
    (
        lambda: Deconvolution2D(
            2, 3, 2, (None, 7, 6, 2), subsample=(2, 2), border_mode="same", dim_ordering="tf"
        ),
        (1, 4, 3, 3),
    ),
    (lambda: LocallyConnected2D(2, 2, 2, subsample=(2, 1), dim_ordering="th"), (2, 2, 5, 3)),
    (lambda: MaxPooling2D((2, 3), border_mode="same", dim_ordering="tf"), (2, 5, 4, 2)),
    (
        lambda: AveragePooling2D((2, 2), strides=(1, 1), border_mode="same", dim_ordering="th"),
        (1, 2, 4, 3),
    ),
    (lambda: GlobalAveragePooling2D(dim_ordering="th"), (2, 3, 2, 2)),
    (lambda: ZeroPadding2D((1, 0, 2, 1), dim_ordering="tf"), (1, 3, 3, 2)),
    (lambda: Cropping2D(((1, 0), (0, 1)), dim_ordering="th"), (1, 2, 4, 4)),
    (lambda: UpSampling2D((2, 1), dim_ordering="th"), (1, 2, 3, 2)),
]


@pytest.mark.parametrize(("make", "shape"), GRADIENT_CASES)
def test_gradients_match_finite_differences(make, shape):
    """gradcheck over the input and every weight, in float64."""
    layer = make()
    layer(torch.zeros(shape))  # builds the weights
    layer.double()
    names = [name for name, _ in layer.named_parameters()]
    generator = torch.Generator().manual_seed(0)
    weights = [
        torch.randn(p.shape, generator=generator, dtype=torch.float64, requires_grad=True)
        for _, p in layer.named_parameters()
    ]
    x = torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)

    def run(x, *weights):
        return torch.func.functional_call(layer, dict(zip(names, weights, strict=True)), (x,))

    assert torch.autograd.gradcheck(run, (x, *weights))


# -- the seed programs -----------------------------------------------------------------------


def vgg_like(ordering: str) -> Sequential:
    """The VGG-like network of the Keras 1 guide, on 20x20 inputs instead of 100x100."""
    shape = (3, 20, 20) if ordering == "th" else (20, 20, 3)
    model = Sequential()
    model.add(
        Convolution2D(32, 3, 3, border_mode="valid", dim_ordering=ordering, input_shape=shape)
    )
    model.add(Activation("relu"))
    model.add(Convolution2D(32, 3, 3, dim_ordering=ordering))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(2, 2), dim_ordering=ordering))
    model.add(Dropout(0.25))
    model.add(Convolution2D(64, 3, 3, border_mode="valid", dim_ordering=ordering))
    model.add(Activation("relu"))
    model.add(Convolution2D(64, 3, 3, dim_ordering=ordering))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(2, 2), dim_ordering=ordering))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(256))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    return model


@pytest.mark.parametrize("ordering", ["th", "tf"])
def test_vgg_like_seed_trains(ordering):
    torch.manual_seed(0)
    model = vgg_like(ordering)
    assert model.output_shape == (None, 10)
    assert model.layers[12].output_shape == (None, 64 * 2 * 2)  # Flatten
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd)
    rng = np.random.default_rng(0)
    x = rng.random((6, *model.input_shape[1:])).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 6)]
    history = model.fit(x, y, batch_size=3, nb_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    predictions = model.predict(x)
    assert predictions.shape == (6, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


def test_conv1d_sequence_seed_trains():
    torch.manual_seed(0)
    model = Sequential()
    model.add(
        Convolution1D(8, 3, activation="relu", border_mode="same", input_dim=5, input_length=12)
    )
    model.add(MaxPooling1D(pool_length=2))
    model.add(Convolution1D(4, 3, activation="relu"))
    model.add(Flatten())
    model.add(Dense(1, activation="sigmoid"))
    assert model.output_shape == (None, 1)
    model.compile(
        loss="binary_crossentropy", optimizer=torch.optim.SGD(model.parameters(), lr=0.05)
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 12, 5)).astype("float32")
    y = rng.integers(0, 2, (8, 1)).astype("float32")
    history = model.fit(x, y, batch_size=4, nb_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x).shape == (8, 1)
