"""Backend functions, torch functions and Python operators on symbolic tensors.

Each op applied to the tensors of ``Input`` and layer calls records a graph node with the
shape and dtype it will have; evaluated (by a model or ``K.function``) it gives what
numpy gives on the same numbers.
"""

import json

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.engine.operation import Operation
from lamella.layers import Dense, Input, Lambda
from lamella.models import Model, Sequential, model_from_json

RNG = np.random.default_rng(7)


def evaluate(inputs, output, *arrays):
    return K.function(inputs, [output])(list(arrays))[0]


def test_shape_queries_answer_from_the_known_shape():
    x = Input(shape=(3, 4))
    ids = Input(shape=(5,), dtype="int32")
    h = Dense(6)(x)
    assert K.int_shape(x) == (None, 3, 4)
    assert K.shape(h) == (None, 3, 6)
    assert K.ndim(h) == 3
    assert K.dtype(x) == "float32"
    assert K.dtype(ids) == "int32"
    assert K.get_variable_shape(ids) == (None, 5)
    assert K.count_params(Input(batch_shape=(2, 3))) == 6
    with pytest.raises(ValueError, match="unknown dimensions"):
        K.count_params(x)
    assert K.is_keras_tensor(h) and not K.is_keras_tensor(torch.ones(1))


def test_backend_ops_record_nodes_with_inferred_shapes_and_values():
    x = Input(shape=(3, 4))
    y = Input(shape=(3, 4))
    cases = {
        "mean": (K.mean(x, axis=-1), lambda a, b: a.mean(-1)),
        "sum_keepdims": (
            K.sum(x - y, axis=1, keepdims=True),
            lambda a, b: (a - b).sum(1, keepdims=True),
        ),
        "concatenate": (K.concatenate([x, y], axis=-1), lambda a, b: np.concatenate([a, b], -1)),
        "batch_flatten": (K.batch_flatten(x), lambda a, b: a.reshape(len(a), -1)),
        "permute": (K.permute_dimensions(x, (0, 2, 1)), lambda a, b: a.transpose(0, 2, 1)),
        "square_exp": (K.exp(K.square(x) * 0.1), lambda a, b: np.exp(a**2 * 0.1)),
        "argmax": (K.argmax(x), lambda a, b: a.argmax(-1)),
        "batch_dot": (
            K.batch_dot(x, K.permute_dimensions(y, (0, 2, 1))),
            lambda a, b: a @ b.transpose(0, 2, 1),
        ),
    }
    a = RNG.normal(size=(2, 3, 4)).astype("float32")
    b = RNG.normal(size=(2, 3, 4)).astype("float32")
    for name, (tensor, reference) in cases.items():
        expected = reference(a, b)
        assert tensor.shape == (None, *expected.shape[1:]), name
        value = evaluate([x, y], tensor, a, b)
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert K.dtype(cases["argmax"][0]) == "int64"
    assert K.dtype(K.cast(x, "int32")) == "int32"


def test_unknown_dimensions_stay_unknown_through_reshapes():
    x = Input(shape=(None, 4))  # unknown batch and unknown length
    flat = K.reshape(x, (-1, 4))
    assert flat.shape == (None, 4)
    assert K.reshape(x, (-1, 2, 2)).shape == (None, 2, 2)
    assert K.mean(x, axis=1).shape == (None, 4)
    fixed = Input(batch_shape=(5, 6))
    assert K.reshape(fixed, (3, 10)).shape == (3, 10)


def test_python_operators_with_numbers_arrays_and_tensors():
    x = Input(shape=(4,))
    y = Input(shape=(4,))
    row = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    a = RNG.normal(size=(3, 4)).astype("float32")
    b = RNG.uniform(0.5, 2.0, size=(3, 4)).astype("float32")
    cases = [
        (x + y, a + b),
        (2 - x, 2 - a),
        (x * row, a * row),
        (row * x, row * a),  # numpy on the left defers to the symbolic tensor
        (x / y, a / b),
        (1 / y, 1 / b),
        (y**2, b**2),
        (2**x, 2**a),
        (-x, -a),
        (abs(x), np.abs(a)),
        (x // y, a // b),
        (x % y, np.mod(a, b)),
        (x[:, 1:3], a[:, 1:3]),
        (x[:, 0], a[:, 0]),
        (x[..., None], a[..., None]),
        (x[:, [0, 2]], a[:, [0, 2]]),
        ((x > 0) & (y > 1), (a > 0) & (b > 1)),
        (x <= y, a <= b),
        (~(x < 0), ~(a < 0)),
    ]
    for index, (tensor, expected) in enumerate(cases):
        assert tensor.shape == (None, *expected.shape[1:]), index
        value = evaluate([x, y], tensor, a, b)
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=str(index))


def test_equality_stays_identity_and_tensors_do_not_iterate():
    x = Input(shape=(2,))
    assert x == x and x != Input(shape=(2,))
    assert x in [Input(shape=(2,)), x]
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)


def test_torch_functions_record_too():
    x = Input(shape=(3,))
    y = torch.tanh(x) + torch.ones(3)
    total = torch.sum(y, dim=1)
    assert total.shape == (None,)
    a = RNG.normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(evaluate([x], total, a), (np.tanh(a) + 1).sum(1), rtol=1e-5)


def test_an_op_output_is_a_model_output_that_predicts_and_trains():
    x = Input(shape=(5,))
    h = Dense(3)(x)
    first = h[:, 0]
    scaled = K.expand_dims(first, -1) * 3.0
    model = Model(input=x, output=[h, scaled])
    a = RNG.normal(size=(4, 5)).astype("float32")
    hidden, out = model.predict(a)
    W, b = h.layer.get_weights()
    np.testing.assert_allclose(hidden, a @ W + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, 3 * (a @ W + b)[:, :1], rtol=1e-5, atol=1e-6)
    model.compile(torch.optim.SGD, "mse")  # core alone has torch's optimizers
    history = model.fit(a, [np.zeros((4, 3)), np.ones((4, 1))], nb_epoch=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_model_with_ops_saves_and_loads_by_function_name():
    x = Input(shape=(4,))
    h = Dense(3, name="dense")(x)
    out = K.concatenate([K.softmax(h), h[:, :1] * 2.0 - 1], axis=-1)
    model = Model(x, out)
    text = model.to_json()
    assert '"K.softmax"' in text and '"operator.getitem"' in text
    assert "lambda" not in text and "code" not in text
    again = model_from_json(text)
    again.set_weights(model.get_weights())
    a = RNG.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(again.predict(a), model.predict(a), rtol=1e-6)


def test_ops_that_cannot_be_saved_are_refused_with_the_reason():
    x = Input(shape=(4,))
    dense = Dense(4)
    h = dense(x)
    with_torch = Model(x, torch.tanh(h))
    with pytest.raises(ValueError, match="only lamella's backend functions"):
        with_torch.to_json()
    with_weight = Model(x, K.dot(h, dense.W))
    with pytest.raises(ValueError, match="cannot be saved"):
        with_weight.to_json()


def test_configs_name_only_known_functions():
    config = {
        "name": "op",
        "function": "os.system",
        "arguments": {"tuple": [{"tuple": [{"tensor": 0}, "echo hi"]}, {"dict": []}]},
        "input_dtypes": ["float32"],
    }
    with pytest.raises(ValueError, match="unknown function"):
        Operation.from_config(config)
    payload = json.dumps({"array": [1, 2], "array_dtype": "object"})
    from lamella.engine.operation import decode

    with pytest.raises(ValueError, match="numbers only"):
        decode(json.loads(payload))


def test_lambda_without_output_shape_infers_it():
    x = Input(shape=(6,))
    y = Input(shape=(2,))
    head = Lambda(lambda t: t[:, :2] * 2)(x)
    assert head.shape == (None, 2)
    joined = Lambda(lambda ts: K.concatenate(ts, axis=-1))([x, y])
    assert joined.shape == (None, 8)
    model = Sequential([Lambda(lambda t: K.sum(t, axis=-1, keepdims=True), input_shape=(6,))])
    assert model.output_shape == (None, 1)


def test_tensor_methods_activations_losses_and_metrics_on_symbolic_tensors():
    from lamella import activations, losses, metrics

    x = K.placeholder(ndim=2)
    y = K.placeholder(ndim=2)
    outputs = [
        x.clamp(-1, 1),
        x.T,
        activations.hard_sigmoid(x),
        losses.mse(x, y),
        metrics.binary_accuracy(y, x),
    ]
    assert x.size() == (None, None) and x.dim() == 2
    assert K.int_shape(outputs[3]) == (None,) and K.int_shape(outputs[4]) == ()
    a = RNG.normal(size=(3, 4)).astype("float32")
    b = (RNG.uniform(size=(3, 4)) > 0.5).astype("float32")
    clamped, transposed, hard, mse, acc = K.function([x, y], outputs)([a, b])
    np.testing.assert_allclose(clamped, np.clip(a, -1, 1))
    np.testing.assert_allclose(transposed, a.T)
    np.testing.assert_allclose(hard, np.clip(0.2 * a + 0.5, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(mse, ((a - b) ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(acc, (np.round(a) == b).mean(), rtol=1e-6)


def test_which_tensors_depend_on_the_learning_phase():
    from lamella.layers import Dropout, merge

    a, b = Input(shape=(4,)), Input(shape=(4,))
    plain, dropped = Dense(3)(a), Dropout(0.5)(b)
    assert not plain._uses_learning_phase and dropped._uses_learning_phase
    assert merge([plain, dropped], mode="concat")._uses_learning_phase
    assert (K.learning_phase() * 1)._uses_learning_phase
    node = plain.layer.inbound_nodes[0]
    assert node.input_masks == [None] and node.output_masks == [None]
