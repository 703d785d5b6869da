"""Core layers against numpy: the maths of each layer is written out here, from Keras 1.

Numeric tests go through ``check_layer``: the reference receives the input and
``layer.get_weights()`` in Keras 1's order and shapes, so matching it also checks
the layout.  Weights are passed with ``weights=`` so that biases are not zero.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lamella import activations
from lamella.backend.config import image_dim_ordering
from lamella.engine.serialization import layer_from_config, layer_to_config, loading
from lamella.layers import Input
from lamella.layers.core import (
    Activation,
    ActivityRegularization,
    Dense,
    Dropout,
    Flatten,
    Highway,
    Lambda,
    Masking,
    MaxoutDense,
    Permute,
    RepeatVector,
    Reshape,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    TimeDistributedDense,
)
from lamella.models import Model, Sequential
from lamella.regularizers import l1l2, l2
from lamella.testing import check_layer


def random(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "softplus": lambda z: np.log1p(np.exp(z)),
}


def weight_layout(layer) -> list[tuple[str, tuple[int, ...]]]:
    prefix = len(layer.name) + 1
    return [(w._keras_name[prefix:], tuple(w.shape)) for w in layer.weights]


# -- Dense, Activation, Dropout, Flatten --------------------------------------------------


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("input_shape", [(4, 5), (3, 4, 5)])
def test_dense_is_the_activation_of_x_W_plus_b(input_shape, activation):
    weights = [random(5, 3), random(3, seed=2)]
    check_layer(
        Dense,
        {"output_dim": 3, "activation": activation, "weights": weights},
        input_shape=input_shape,
        reference=lambda x, w: ACTIVATIONS[activation](x @ w[0] + w[1]),
        weights_count=2,
    )


def test_dense_without_bias_is_x_W():
    check_layer(
        Dense,
        {"output_dim": 3, "bias": False},
        input_shape=(4, 5),
        reference=lambda x, w: x @ w[0],
        weights_count=1,
    )


def test_dense_weights_argument_sets_W_and_b_in_that_order():
    W, b = random(5, 3), random(3, seed=2)
    layer = Dense(3, input_dim=5, weights=[W, b])
    model = Sequential([layer])
    assert weight_layout(layer) == [("W", (5, 3)), ("b", (3,))]
    np.testing.assert_array_equal(layer.get_weights()[0], W)
    np.testing.assert_array_equal(layer.get_weights()[1], b)
    x = random(6, 5, seed=3)
    np.testing.assert_allclose(model.predict(x), x @ W + b, rtol=1e-5, atol=1e-6)


def test_dense_regularizers_give_plain_sum_penalties():
    W, b = random(5, 3), random(3, seed=2)
    layer = Dense(
        3, input_dim=5, weights=[W, b], W_regularizer=l1l2(l1=0.01, l2=0.02), b_regularizer=l2(0.1)
    )
    Sequential([layer])
    penalties = [float(p.detach()) for p in layer.penalties()]
    expected = [0.01 * np.abs(W).sum() + 0.02 * np.square(W).sum(), 0.1 * np.square(b).sum()]
    np.testing.assert_allclose(penalties, expected, rtol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
def test_activation_applies_the_function(activation):
    check_layer(
        Activation,
        {"activation": activation},
        input_shape=(3, 4),
        reference=lambda x, w: ACTIVATIONS[activation](x),
    )


def test_dropout_is_the_identity_at_predict():
    check_layer(Dropout, {"p": 0.5}, input_shape=(4, 6), reference=lambda x, w: x)


def test_dropout_in_training_keeps_1_minus_p_scaled_by_its_inverse():
    p = 0.3
    layer = Dropout(p)
    layer.train()
    torch.manual_seed(0)
    y = layer(torch.ones(20, 10_000)).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / (1 - p))}
    assert abs((y > 0).mean() - (1 - p)) < 0.01
    assert layer.uses_learning_phase


def test_dropout_noise_shape_shares_one_draw_along_axes_of_size_1():
    layer = Dropout(0.5, noise_shape=(None, 1, None))
    layer.train()
    torch.manual_seed(0)
    y = layer(torch.ones(8, 20, 6)).numpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))
    assert 0 < (y == 0).mean() < 1


def test_flatten_is_a_C_order_reshape():
    check_layer(Flatten, {}, input_shape=(2, 3, 4, 5), reference=lambda x, w: x.reshape(len(x), -1))


def test_flatten_needs_known_sizes():
    with pytest.raises(ValueError, match=r"Flatten flatten_1: .*not fully known"):
        Flatten()(Input(shape=(None, 4)))


# -- Reshape, Permute, RepeatVector --------------------------------------------------------


@pytest.mark.parametrize(
    ("input_shape", "target_shape", "sample_shape"),
    [
        ((2, 12), (3, 4), (3, 4)),
        ((2, 3, 4), (-1,), (12,)),
        ((2, 3, 4), (2, -1, 3), (2, 2, 3)),
        ((2, 6), [6, 1], (6, 1)),
    ],
)
def test_reshape_gives_each_sample_the_target_shape(input_shape, target_shape, sample_shape):
    assert Reshape(target_shape)(Input(shape=input_shape[1:])).shape == (None, *sample_shape)
    check_layer(
        Reshape,
        {"target_shape": target_shape},
        input_shape=input_shape,
        reference=lambda x, w: x.reshape(len(x), *sample_shape),
    )


def test_reshape_infers_nothing_from_unknown_sizes():
    assert Reshape((-1, 2))(Input(shape=(None, 4))).shape == (None, None, 2)


@pytest.mark.parametrize(
    ("target_shape", "message"),
    [
        ((-1, -1), "at most one -1"),
        ((0, 3), "positive integers"),
        ((2.0, 3), "positive integers"),
        (6, "a tuple"),
    ],
)
def test_reshape_rejects_bad_target_shapes(target_shape, message):
    with pytest.raises(ValueError, match=rf"Reshape reshape_1: target_shape must be .*{message}"):
        Reshape(target_shape)


@pytest.mark.parametrize(("input_shape", "target_shape"), [((2, 3), (5,)), ((6,), (4, -1))])
def test_reshape_rejects_sizes_that_do_not_match(input_shape, target_shape):
    with pytest.raises(ValueError, match=r"Reshape reshape_1: .* cannot be reshaped"):
        Reshape(target_shape)(Input(shape=input_shape))


@pytest.mark.parametrize(
    ("input_shape", "dims"),
    [((2, 3, 4), (2, 1)), ((2, 3, 4, 5), (3, 1, 2)), ((2, 3, 4, 5), (1, 2, 3))],
)
def test_permute_reorders_the_sample_axes(input_shape, dims):
    check_layer(
        Permute,
        {"dims": dims},
        input_shape=input_shape,
        reference=lambda x, w: np.transpose(x, (0, *dims)),
    )


@pytest.mark.parametrize("dims", [(0, 1), (1, 3), (2, 2), (), "21"])
def test_permute_rejects_what_is_not_a_permutation_from_1(dims):
    with pytest.raises(ValueError, match=r"Permute permute_1: dims must be a permutation"):
        Permute(dims)


def test_permute_needs_as_many_dims_as_sample_axes():
    with pytest.raises(ValueError, match="permute_1"):
        Permute((2, 1))(Input(shape=(3, 4, 5)))


def test_repeat_vector_repeats_each_sample_n_times():
    check_layer(
        RepeatVector,
        {"n": 3},
        input_shape=(4, 5),
        reference=lambda x, w: np.repeat(x[:, None, :], 3, axis=1),
    )


def test_repeat_vector_needs_a_positive_n():
    with pytest.raises(ValueError, match=r"RepeatVector repeatvector_1: n must be a positive"):
        RepeatVector(0)


# -- Lambda ----------------------------------------------------------------------------------


def square(x):
    return x**2


def scaled(x, scale):
    return x * scale


def total(x):
    return x.sum(dim=-1)


@pytest.mark.parametrize(
    ("function", "output_shape", "arguments", "reference", "shape"),
    [
        (square, None, None, np.square, (None, 3, 4)),
        (scaled, None, {"scale": 2.5}, lambda x: x * 2.5, (None, 3, 4)),
        (total, (3,), None, lambda x: x.sum(-1), (None, 3)),
        (total, [3], None, lambda x: x.sum(-1), (None, 3)),
        (total, lambda s: s[:-1], None, lambda x: x.sum(-1), (None, 3)),
    ],
)
def test_lambda_applies_its_function(function, output_shape, arguments, reference, shape):
    inputs = Input(shape=(3, 4))
    outputs = Lambda(function, output_shape=output_shape, arguments=arguments)(inputs)
    assert outputs.shape == shape
    x = random(2, 3, 4)
    np.testing.assert_allclose(Model(inputs, outputs).predict(x), reference(x), rtol=1e-5)


def test_lambda_on_several_inputs_takes_the_batch_axis_of_the_first():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    outputs = Lambda(lambda xs: xs[0] - xs[1], output_shape=(3,))([a, b])
    assert outputs.shape == (None, 3)
    x, y = random(2, 3), random(2, 3, seed=2)
    np.testing.assert_allclose(Model([a, b], outputs).predict([x, y]), x - y, rtol=1e-6)
    assert Lambda(lambda xs: xs[0][:, :2])([a, b]).shape == (None, 2)  # inferred
    # A function that fails on stand-in values cannot be inferred: output_shape is needed.
    with pytest.raises(ValueError, match=r"Lambda lambda_3: .*pass output_shape"):
        Lambda(lambda xs: xs[0] * (1.0 / xs[1].sum().item()))([a, b])


def test_lambda_stores_code_that_loads_only_without_safe_mode():
    layer = Lambda(total, output_shape=lambda s: s[:-1], arguments={})
    config = layer.get_config()
    assert config["function_type"] == config["output_shape_type"] == "lambda"
    assert set(config["function"]) == {"code", "defaults", "closure", "python"}
    assert Lambda(total, output_shape=(3,)).get_config()["output_shape"] == (3,)
    with pytest.raises(ValueError, match=r"Refusing to load Lambda layer .*safe_mode=False"):
        layer_from_config(layer_to_config(layer))
    with loading(safe=False):
        rebuilt = layer_from_config(json.loads(json.dumps(layer_to_config(layer))))
    x = torch.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(rebuilt.call(x).numpy(), layer.call(x).numpy())
    assert rebuilt.get_output_shape_for((None, 4, 3)) == (None, 4)


def test_lambda_of_a_non_python_function_is_stored_by_name():
    layer = Lambda(torch.tanh)
    assert layer.get_config()["function_type"] == "function"
    rebuilt = layer_from_config(layer_to_config(layer))  # a registered activation: no code
    assert rebuilt.function is activations.get("tanh")
    with pytest.raises(ValueError, match="neither in custom_objects nor a registered"):
        layer_from_config(layer_to_config(Lambda(torch.special.expit)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"function": 3}, "function must be callable"),
        ({"function": square, "output_shape": 3}, "output_shape must be a tuple"),
    ],
)
def test_lambda_rejects_what_is_not_a_function_or_shape(kwargs, message):
    with pytest.raises(TypeError, match=rf"Lambda lambda_1: {message}"):
        Lambda(**kwargs)


# -- Masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_zeroes_the_padding_steps_and_masks_them(mask_value):
    x = random(3, 5, 4)
    x[0, 1] = mask_value
    x[2, [0, 3]] = mask_value
    x[1, 2, 0] = mask_value  # one matching feature is not padding
    keep = np.any(x != mask_value, axis=-1)
    check_layer(
        Masking,
        {"mask_value": mask_value},
        input_data=x,
        reference=lambda x, w: x * keep[..., None],
    )
    layer = Masking(mask_value)
    np.testing.assert_array_equal(layer.compute_mask(torch.from_numpy(x)).numpy(), keep)
    inputs = Input(shape=(5, 4))
    model = Model(inputs, Dense(2)(layer(inputs)))
    _, masks = model.run_masked([torch.from_numpy(x)])
    np.testing.assert_array_equal(masks[0].numpy(), keep)


def test_masking_before_a_layer_without_mask_support_fails_at_add():
    model = Sequential([Masking(input_shape=(5, 4))])
    with pytest.raises(TypeError, match=r"flatten_1 \(Flatten\) does not support masking"):
        model.add(Flatten())


# -- Highway, MaxoutDense, TimeDistributedDense ----------------------------------------------


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_highway_mixes_transform_and_input_by_the_gate(activation):
    def reference(x, w):
        W, W_carry, b, b_carry = w
        gate = sigmoid(x @ W_carry + b_carry)
        return ACTIVATIONS[activation](x @ W + b) * gate + x * (1 - gate)

    weights = [random(4, 4), random(4, 4, seed=2), random(4, seed=3), random(4, seed=4)]
    check_layer(
        Highway,
        {"activation": activation, "weights": weights},
        input_shape=(3, 4),
        reference=reference,
        weights_count=4,
    )


def test_highway_without_bias_has_no_biases_in_the_gate_either():
    def reference(x, w):
        gate = sigmoid(x @ w[1])
        return x @ w[0] * gate + x * (1 - gate)

    check_layer(Highway, {"bias": False}, input_shape=(3, 4), reference=reference, weights_count=2)


def test_highway_weights_W_W_carry_b_b_carry_with_b_carry_at_ones():
    layer = Highway(input_dim=4)
    Sequential([layer])
    assert weight_layout(layer) == [
        ("W", (4, 4)),
        ("W_carry", (4, 4)),
        ("b", (4,)),
        ("b_carry", (4,)),
    ]
    np.testing.assert_array_equal(layer.get_weights()[2], np.zeros(4))
    np.testing.assert_array_equal(layer.get_weights()[3], np.ones(4))


def test_highway_transform_bias_is_deprecated():
    with pytest.warns(UserWarning, match="transform_bias"):
        layer = Highway(transform_bias=-2, input_dim=3)
    assert "transform_bias" not in layer.get_config()


@pytest.mark.parametrize("bias", [True, False])
def test_maxout_dense_is_the_max_of_nb_feature_affine_maps(bias):
    def reference(x, w):
        features = np.einsum("bi,fio->bfo", x, w[0])
        return (features + w[1] if bias else features).max(axis=1)

    weights = [random(3, 5, 2)] + ([random(3, 2, seed=2)] if bias else [])
    check_layer(
        MaxoutDense,
        {"output_dim": 2, "nb_feature": 3, "bias": bias, "weights": weights},
        input_shape=(4, 5),
        reference=reference,
    )


def test_maxout_dense_weights_default_to_4_features():
    layer = MaxoutDense(2, input_dim=5)
    Sequential([layer])
    assert weight_layout(layer) == [("W", (4, 5, 2)), ("b", (4, 2))]


def test_time_distributed_dense_applies_one_dense_to_every_step():
    def reference(x, w):
        return np.stack([np.tanh(x[:, t] @ w[0] + w[1]) for t in range(x.shape[1])], axis=1)

    weights = [random(5, 3), random(3, seed=2)]
    with pytest.warns(UserWarning, match=r"TimeDistributed\(Dense"):
        check_layer(
            TimeDistributedDense,
            {"output_dim": 3, "activation": "tanh", "weights": weights},
            input_shape=(2, 4, 5),
            reference=reference,
            weights_count=2,
        )


def test_time_distributed_dense_input_dim_and_length_give_the_input_shape():
    with pytest.warns(UserWarning):
        layer = TimeDistributedDense(3, input_dim=5, input_length=4)
    model = Sequential([layer])
    assert model.output_shape == (None, 4, 3)
    assert weight_layout(layer) == [("W", (5, 3)), ("b", (3,))]
    assert layer.get_config()["input_length"] == 4


# -- ActivityRegularization, SpatialDropout -------------------------------------------------


def test_activity_regularization_passes_x_and_penalizes_it():
    x = random(3, 4)
    check_layer(
        ActivityRegularization, {"l1": 0.1, "l2": 0.2}, input_data=x, reference=lambda x, w: x
    )
    inputs = Input(shape=(4,))
    model = Model(inputs, ActivityRegularization(l1=0.1, l2=0.2)(inputs))
    model(torch.from_numpy(x))
    penalty = float(sum(model.activity_penalties()))
    np.testing.assert_allclose(penalty, 0.1 * np.abs(x).sum() + 0.2 * np.square(x).sum(), 1e-5)


SPATIAL = [
    (SpatialDropout1D, {}, (6, 10, 8), 2),
    (SpatialDropout2D, {"dim_ordering": "th"}, (6, 8, 4, 5), 1),
    (SpatialDropout2D, {"dim_ordering": "tf"}, (6, 4, 5, 8), 3),
    (SpatialDropout3D, {"dim_ordering": "th"}, (6, 8, 3, 2, 3), 1),
    (SpatialDropout3D, {"dim_ordering": "tf"}, (6, 3, 2, 3, 8), 4),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape", "channel_axis"), SPATIAL)
def test_spatial_dropout_drops_whole_channels_while_training(cls, kwargs, shape, channel_axis):
    check_layer(cls, {"p": 0.5, **kwargs}, input_shape=shape, reference=lambda x, w: x)
    layer = cls(0.5, **kwargs)
    layer.train()
    torch.manual_seed(0)
    y = layer(torch.ones(shape)).numpy()
    per_channel = np.moveaxis(y, channel_axis, 1).reshape(shape[0], shape[channel_axis], -1)
    np.testing.assert_array_equal(
        per_channel, np.broadcast_to(per_channel[..., :1], per_channel.shape)
    )
    assert set(np.unique(per_channel)) == {0.0, 2.0}


def test_spatial_dropout_default_ordering_is_the_configured_one():
    assert SpatialDropout2D(0.5).dim_ordering == image_dim_ordering()
    with pytest.raises(ValueError, match=r"SpatialDropout3D spatialdropout3d_1: dim_ordering"):
        SpatialDropout3D(0.5, dim_ordering="channels_last")
