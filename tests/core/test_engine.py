"""The symbolic graph: shapes at add(), Sequential, functional models, Merge, custom layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella import initializations
from lamella.engine import InputSpec, Layer
from lamella.layers import Activation, Dense, Dropout, Input, Merge, merge
from lamella.models import Model, Sequential


def sgd(lr: float = 0.1) -> type:
    """A torch.optim.SGD class with a fixed learning rate, as compile() accepts classes."""

    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


# -- the seed notes' custom layers, verbatim apart from the obvious typos ------------------


class My_activation(Layer):  # the seed's name
    """f(x) = x for x>0; alpha1*x for theta<x<=0; alpha2*x for x<=theta."""

    def __init__(self, theta=-5.0, alpha1=0.2, alpha2=0.1, **kwargs):
        self.theta = theta
        self.alpha1 = alpha1
        self.alpha2 = alpha2
        super().__init__(**kwargs)

    def call(self, x, mask=None):
        fx_0 = K.relu(x)
        fx_1 = self.alpha1 * x * K.cast(x > self.theta, K.floatx()) * K.cast(x <= 0.0, K.floatx())
        fx_2 = self.alpha2 * x * K.cast(x <= self.theta, K.floatx())
        return fx_0 + fx_1 + fx_2

    def get_output_shape_for(self, input_shape):
        return input_shape


class Trainable_activation(Layer):
    """The same function with learnable alpha1 and alpha2."""

    def __init__(self, init="zero", theta=-5.0, **kwargs):
        self.init = initializations.get(init)
        self.theta = theta
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha1 = self.init(input_shape[1:], name="alpha1")
        self.alpha2 = self.init(input_shape[1:], name="alpha2")
        self.trainable_weights = [self.alpha1, self.alpha2]

    def call(self, x, mask=None):
        fx_0 = K.relu(x)
        fx_1 = self.alpha1 * x * K.cast(x > self.theta, K.floatx()) * K.cast(x <= 0.0, K.floatx())
        fx_2 = self.alpha2 * x * K.cast(x <= self.theta, K.floatx())
        return fx_0 + fx_1 + fx_2

    def get_output_shape_for(self, input_shape):
        return input_shape


def piecewise(x, theta, alpha1, alpha2):
    return np.where(x > 0, x, np.where(x > theta, alpha1 * x, alpha2 * x))


def test_my_activation_computes_the_seed_formula():
    x = np.linspace(-10, 10, 41, dtype="float32").reshape(1, 41)
    model = Sequential([My_activation(theta=-5.0, alpha1=0.2, alpha2=0.1, input_shape=(41,))])
    np.testing.assert_allclose(model.predict(x), piecewise(x, -5.0, 0.2, 0.1), rtol=1e-6)


def test_trainable_activation_alphas_train_towards_the_target():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-10, 0, size=(256, 3)).astype("float32")
    y = piecewise(x, -5.0, 0.3, 0.05)
    model = Sequential([Trainable_activation(init="zero", theta=-5.0, input_shape=(3,))])
    layer = model.layers[0]
    assert [w._keras_name for w in layer.trainable_weights] == ["alpha1", "alpha2"]
    assert model.count_params() == 6
    model.compile(optimizer=sgd(0.02), loss="mse")
    model.fit(x, y, nb_epoch=60, batch_size=32, verbose=0)
    alpha1, alpha2 = layer.get_weights()
    np.testing.assert_allclose(alpha1, [0.3] * 3, atol=0.02)
    np.testing.assert_allclose(alpha2, [0.05] * 3, atol=0.02)


def test_seed_custom_activation_function_and_lambda_style():
    def sigmoid_relu(x):
        return K.relu(x) - K.relu(0.5 - K.sigmoid(x))

    x = np.linspace(-4, 4, 9, dtype="float32").reshape(1, 9)
    model = Sequential([Activation(sigmoid_relu, input_shape=(9,))])
    expected = np.maximum(x, 0) - np.maximum(0.5 - 1 / (1 + np.exp(-x)), 0)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6, atol=1e-7)


# -- Sequential -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        lambda: Dense(32, input_shape=(784,)),
        lambda: Dense(32, batch_input_shape=(None, 784)),
        lambda: Dense(32, input_dim=784),
    ],
)
def test_three_input_shape_forms_are_equivalent(first):
    model = Sequential()
    model.add(first())
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 32)
    assert model.count_params() == 784 * 32 + 32


def test_list_constructor_infers_every_shape():
    model = Sequential(
        [Dense(32, input_dim=784), Activation("relu"), Dense(10), Activation("softmax")]
    )
    assert [layer.output_shape for layer in model.layers] == [(None, 32)] * 2 + [(None, 10)] * 2
    assert [layer.name for layer in model.layers] == [
        "dense_1",
        "activation_1",
        "dense_2",
        "activation_2",
    ]
    assert model.get_layer("dense_2") is model.layers[2]


def test_summary_prints_keras_table(capsys):
    model = Sequential([Dense(8, input_dim=5), Dropout(0.5), Dense(2)])
    model.summary()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "_" * 100
    assert lines[1].rstrip() == (
        "Layer (type)                     Output Shape          Param #     Connected to"
    )
    assert lines[3].rstrip() == (
        "dense_1 (Dense)                  (None, 8)             48          dense_input_1[0][0]"
    )
    assert lines[5].rstrip().startswith("dropout_1 (Dropout)              (None, 8)             0")
    assert "Total params: 66" in lines
    assert "Trainable params: 66" in lines
    assert "Non-trainable params: 0" in lines


def test_first_layer_without_shape_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"Dense \(dense_1\) input_shape="):
        Sequential([Dense(3)])


class NeedsSequences(Layer):
    """A layer that only takes 3D input (batch, steps, features)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = [InputSpec(ndim=3)]


def test_shape_mismatch_at_add_names_both_layers():
    model = Sequential([Dense(4, input_dim=3)])
    with pytest.raises(
        ValueError,
        match=r"needssequences_1 \(NeedsSequences\) after layer dense_1 \(Dense, output shape "
        r"\(None, 4\)\).*must have 3 dimensions",
    ):
        model.add(NeedsSequences())
    assert len(model.layers) == 1


def test_get_set_weights_and_pop():
    model = Sequential([Dense(3, input_dim=2), Dense(1)])
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(2, 3), (3,), (3, 1), (1,)]
    model.set_weights([np.ones_like(w) for w in weights])
    np.testing.assert_allclose(model.predict(np.ones((1, 2), "float32")), [[(2 + 1) * 3 + 1]])
    with pytest.raises(ValueError, match="has 4 weight arrays but set_weights got 1"):
        model.set_weights(weights[:1])
    with pytest.raises(ValueError, match=r"weight 0 \(dense_1_W\) has shape \(2, 3\)"):
        model.layers[0].set_weights([np.zeros((3, 3)), np.zeros(3)])
    removed = model.pop()
    assert removed.name == "dense_2"
    assert model.output_shape == (None, 3)
    np.testing.assert_allclose(model.predict(np.ones((1, 2), "float32")), [[3.0, 3.0, 3.0]])


def test_weights_argument_sets_initial_weights():
    w, b = np.arange(6, dtype="float32").reshape(2, 3), np.array([1, 2, 3], "float32")
    model = Sequential([Dense(3, input_dim=2, weights=[w, b])])
    x = np.array([[1.0, -1.0]], "float32")
    np.testing.assert_allclose(model.predict(x), x @ w + b)


# -- functional API ---------------------------------------------------------------------


def test_functional_model_with_two_inputs_and_two_outputs():
    a, b = Input(shape=(3,), name="a"), Input(shape=(4,), name="b")
    shared = Dense(2, name="shared")
    ha, hb = shared(Dense(2, name="pa")(a)), shared(Dense(2, name="pb")(b))
    out_sum = merge([ha, hb], mode="sum", name="out_sum")
    out_cat = merge([ha, hb], mode="concat", name="out_cat")
    model = Model(input=[a, b], output=[out_sum, out_cat])
    assert model.input_names == ["a", "b"]
    assert model.output_names == ["out_sum", "out_cat"]
    assert model.output_shape == [(None, 2), (None, 4)]
    xa = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    xb = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    s, c = model.predict([xa, xb])
    weights = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}

    def dense(name, x):
        w, bias = weights[name]
        return x @ w + bias

    ya, yb = dense("shared", dense("pa", xa)), dense("shared", dense("pb", xb))
    np.testing.assert_allclose(s, ya + yb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, np.concatenate([ya, yb], axis=1), rtol=1e-5, atol=1e-6)
    by_name = model.predict({"a": xa, "b": xb})
    np.testing.assert_allclose(by_name[0], s)


def test_model_used_as_a_layer_shares_its_weights():
    inner_in = Input(shape=(3,))
    inner = Model(inner_in, Dense(2, activation="tanh")(inner_in))
    outer_in = Input(shape=(3,))
    outer = Model(outer_in, Dense(1)(inner(outer_in)))
    assert outer.output_shape == (None, 1)
    assert len(outer.trainable_weights) == 4
    x = np.ones((2, 3), "float32")
    w1, b1 = inner.get_weights()
    w2, b2 = outer.layers[-1].get_weights()
    np.testing.assert_allclose(outer.predict(x), np.tanh(x @ w1 + b1) @ w2 + b2, rtol=1e-5)
    model_in_sequential = Sequential([inner, Dense(1)])
    assert model_in_sequential.output_shape == (None, 1)


def test_disconnected_graph_is_reported():
    a, b = Input(shape=(2,), name="first"), Input(shape=(2,), name="second")
    out = merge([a, b], mode="sum")
    with pytest.raises(ValueError, match=r"Graph disconnected.*second"):
        Model(input=a, output=out)


def test_torch_module_interop():
    model = Sequential([Dense(4, input_dim=3, name="hidden"), Dense(2, name="out")])
    keys = list(model.state_dict())
    assert keys == ["hidden.W", "hidden.b", "out.W", "out.b"]
    out = model(torch.ones(5, 3))
    assert out.shape == (5, 2)
    assert sum(p.numel() for p in model.parameters()) == model.count_params()


# -- Merge --------------------------------------------------------------------------------

RNG = np.random.default_rng(3)
A = RNG.standard_normal((4, 5)).astype("float32")
B = RNG.standard_normal((4, 5)).astype("float32")


def _cos(a, b):
    return (a * b).sum(1, keepdims=True) / np.sqrt(
        (a * a).sum(1, keepdims=True) * (b * b).sum(1, keepdims=True)
    )


@pytest.mark.parametrize(
    ("mode", "expected", "shape"),
    [
        ("sum", A + B, (None, 5)),
        ("mul", A * B, (None, 5)),
        ("ave", (A + B) / 2, (None, 5)),
        ("max", np.maximum(A, B), (None, 5)),
        ("concat", np.concatenate([A, B], 1), (None, 10)),
        ("dot", (A * B).sum(1, keepdims=True), (None, 1)),
        ("cos", _cos(A, B), (None, 1)),
    ],
)
def test_merge_modes_match_numpy(mode, expected, shape):
    a, b = Input(shape=(5,)), Input(shape=(5,))
    out = merge([a, b], mode=mode)
    assert out.shape == shape
    np.testing.assert_allclose(Model([a, b], out).predict([A, B]), expected, rtol=1e-5, atol=1e-6)


def test_merge_function_mode_and_shape_errors():
    a, b = Input(shape=(5,)), Input(shape=(3,))
    out = merge([a, b], mode=lambda xs: torch.cat([xs[0], xs[1] * 2], 1), output_shape=(8,))
    got = Model([a, b], out).predict([A, B[:, :3]])
    np.testing.assert_allclose(got, np.concatenate([A, 2 * B[:, :3]], 1), rtol=1e-6)
    with pytest.raises(ValueError, match=r"mode 'sum'\): all inputs must have the same shape"):
        merge([a, b], mode="sum")
    with pytest.raises(ValueError, match="mode must be one of"):
        Merge(mode="avg")


def test_merge_of_sequential_branches_trains():
    """The seed notebook's two-branch model."""
    left, right = Sequential(), Sequential()
    left.add(Dense(32, input_dim=784))
    right.add(Dense(32, input_dim=784))
    model = Sequential()
    model.add(Merge([left, right], mode="concat"))
    model.add(Dense(10, activation="softmax"))
    assert model.input_shape == [(None, 784), (None, 784)]
    assert [layer.name for layer in model.flattened_layers] == [
        "dense_1",
        "dense_2",
        "merge_1",
        "dense_3",
    ]
    model.compile(optimizer=sgd(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x1, x2 = rng.random((64, 784)), rng.random((64, 784))
    labels = np.eye(10)[rng.integers(10, size=64)]
    history = model.fit([x1, x2], labels, nb_epoch=2, batch_size=32, verbose=0)
    assert list(history.history) == ["loss", "acc"]
    assert model.predict([x1, x2]).shape == (64, 10)


def test_non_trainable_weights_follow_the_module_when_it_moves():
    """.double() and .to() replace buffers; weights and get/set_weights must see the new ones."""
    pytest.importorskip("lamella.layers.normalization")
    from lamella.layers import BatchNormalization

    model = Sequential([BatchNormalization(input_shape=(3,))])
    layer = model.layers[0]
    model.double()
    assert [w.dtype for w in layer.weights] == [torch.float64] * 4
    assert layer.weights[2] is layer._buffers["running_mean"]
    assert [w._keras_name for w in layer.weights][2:] == [
        "batchnormalization_1_running_mean",
        "batchnormalization_1_running_std",
    ]
    layer.set_weights([np.full(3, v) for v in (2.0, 1.0, 0.5, 4.0)])
    np.testing.assert_array_equal(layer._buffers["running_std"].numpy(), [4.0] * 3)


@pytest.mark.parametrize("name", ["output", "input", "layers", "weights", "name"])
def test_a_layer_may_take_the_name_of_a_model_attribute(name):
    """Keras allows any layer name (MusicTaggerCRNN's last layer is 'output'): the model
    builds, finds it by name and runs it, and its own attribute stays its own."""
    x = Input(shape=(3,))
    dense = Dense(2, name=name)
    model = Model(x, dense(Dense(4, name=f"{name}_")(x)))
    assert model.get_layer(name) is dense
    assert model.output is model.outputs[0] and model.name.startswith("model")
    assert sum(1 for _ in model.children()) == 3  # the input, both dense layers
    inputs = np.ones((1, 3), dtype="float32")
    hidden = inputs @ model.get_layer(f"{name}_").get_weights()[0]
    hidden += model.get_layer(f"{name}_").get_weights()[1]
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(model.predict(inputs), hidden @ kernel + bias, rtol=1e-5)
