"""``lamella.utils.test_utils``: Keras 1's ``layer_test``, ``keras_test`` and ``get_test_data``."""

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.engine.topology import Layer
from lamella.layers import Activation, Dense, Dropout, Embedding, Reshape
from lamella.utils.test_utils import get_test_data, keras_test, layer_test

RNG = np.random.default_rng(5)
X = RNG.normal(size=(4, 6)).astype("float32")


def test_dense_output_matches_numpy():
    # init='one' makes the weights the same in every model layer_test builds.
    out = layer_test(
        Dense,
        kwargs={"output_dim": 3, "init": "one", "activation": "relu"},
        input_data=X,
        expected_output=np.repeat(np.maximum(X.sum(1, keepdims=True), 0), 3, axis=1),
    )
    assert out.shape == (4, 3)


def test_activation_dropout_and_reshape_outputs_match_numpy():
    layer_test(Activation, kwargs={"activation": "tanh"}, input_data=X, expected_output=np.tanh(X))
    layer_test(Dropout, kwargs={"p": 0.5}, input_data=X, expected_output=X)  # inference: identity
    layer_test(
        Reshape, kwargs={"target_shape": (2, 3)}, input_data=X, expected_output=X.reshape(4, 2, 3)
    )


def test_random_input_of_the_given_shape_and_dtype():
    out = layer_test(Dense, kwargs={"output_dim": 2}, input_shape=(None, 5, 3))
    assert out.shape[1:] == (5, 2) and 1 <= out.shape[0] <= 3
    out = layer_test(
        Embedding,
        kwargs={"input_dim": 10, "output_dim": 4},
        input_shape=(2, 7),
        input_dtype="int64",
        expected_output_dtype="float32",
    )
    assert out.shape == (2, 7, 4)
    fixed = layer_test(
        Activation, kwargs={"activation": "relu"}, input_shape=(3, 2), fixed_batch_size=True
    )
    assert fixed.shape == (3, 2) and (fixed >= 0).all()


class Scale(Layer):
    """A custom layer with a weight and an argument: ``factor * x * w``, ``w`` starting at 1."""

    def __init__(self, factor=1.0, **kwargs):
        self.factor = factor
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "one", name="w")
        self.trainable_weights = [self.w]

    def call(self, x, mask=None):
        return self.factor * x * self.w

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_a_custom_layer_is_checked_and_trained():
    out = layer_test(Scale, kwargs={"factor": 2.5}, input_data=X, expected_output=2.5 * X)
    np.testing.assert_allclose(out, 2.5 * X, rtol=1e-6)


class ForgetsFactor(Scale):
    def get_config(self):
        config = super().get_config()
        del config["factor"]
        return config


class WrongShape(Scale):
    def get_output_shape_for(self, input_shape):
        return (input_shape[0], input_shape[1] + 1)


class WrongDtype(Scale):
    def call(self, x, mask=None):
        return super().call(x).double()


class WrongSymbolicDtype(Scale):
    def output_dtypes(self, count):
        return ["float64"] * count


@pytest.mark.parametrize(
    ("cls", "text"),
    [
        (ForgetsFactor, "computes differently after Model.from_config"),
        (WrongShape, r"declares \(4, 7\)|declares \(None, 7\)"),
        (WrongDtype, "computes float64 outputs, expected float32"),
        (WrongSymbolicDtype, "gives float64 outputs, expected float32"),
    ],
)
def test_layer_test_catches_broken_layers(cls, text):
    with pytest.raises(AssertionError, match=text):
        layer_test(cls, kwargs={"factor": 2.5}, input_data=X, expected_output=2.5 * X)


def test_layer_test_needs_an_input():
    with pytest.raises(ValueError, match="pass input_shape or input_data"):
        layer_test(Dense, kwargs={"output_dim": 2})


def test_keras_test_restarts_layer_names_and_returns_the_result():
    @keras_test
    def build():
        """Makes two layers."""
        return [Dense(2).name, Dense(2).name]

    Dense(2)
    assert build() == ["dense_2", "dense_3"]
    assert build.__doc__ == "Makes two layers." and build.__name__ == "build"
    assert Dense(2).name == "dense_1"


def test_get_test_data_classification_clouds_sit_on_their_class():
    np.random.seed(1)
    (x_train, y_train), (x_test, _) = get_test_data(
        nb_train=3000, nb_test=600, input_shape=(4,), classification=True, nb_class=3
    )
    assert x_train.shape == (3000, 4) and x_test.shape == (600, 4)
    assert y_train.shape == (3000,) and set(np.unique(y_train)) == {0, 1, 2}
    for c in range(3):
        samples = x_train[y_train == c]
        np.testing.assert_allclose(samples.mean(), c, atol=0.05)
        np.testing.assert_allclose(samples.std(), 0.7, atol=0.05)


def test_get_test_data_regression_shapes_and_shared_centres():
    np.random.seed(2)
    (x_train, y_train), (x_test, y_test) = get_test_data(
        nb_train=2000, nb_test=10, input_shape=(3, 2), output_shape=(5,), classification=False
    )
    assert x_train.shape == (2000, 3, 2) and y_train.shape == (2000, 5)
    assert x_test.shape == (10, 3, 2) and y_test.shape == (10, 5)
    # X and y are drawn around the same centre, so their sample means correlate.
    corr = np.corrcoef(x_train.mean(axis=(1, 2)), y_train.mean(axis=1))[0, 1]
    assert corr > 0.1


def test_k_dtype_reads_symbolic_outputs():
    """layer_test compares ``K.dtype`` of a symbolic output, as Keras 1's did."""
    from lamella.engine.topology import Input

    assert K.dtype(Dense(2)(Input(shape=(3,)))) == "float32"
    assert K.dtype(torch.zeros(2, dtype=torch.int64)) == "int64"
