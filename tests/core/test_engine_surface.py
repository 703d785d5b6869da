"""The graph's public surface as Keras 1 has it: model inputs and outputs, nodes,
source inputs, and shape and mask methods."""

import numpy as np
import pytest

from lamella.engine.topology import get_source_inputs
from lamella.layers import Dense, Input, merge
from lamella.models import Model, Sequential


def two_branch_model():
    a, b = Input(shape=(32,), name="a"), Input(shape=(32,), name="b")
    dense = Dense(16, name="shared")
    joined = merge([dense(a), dense(b)], mode="concat", name="joined")
    side = Dense(5, name="side")(dense(b))
    return a, b, Model([a, b], [joined, side])


def test_model_input_and_output_are_tensors_or_lists():
    a, b, model = two_branch_model()
    assert model.input == [a, b] and model.inputs == [a, b]
    assert model.output == model.outputs and len(model.outputs) == 2
    single = Sequential([Dense(3, input_dim=4)])
    assert single.input is single.inputs[0] and single.input.shape == (None, 4)
    assert single.output.shape == (None, 3)
    # Fine-tuning: a new model from an existing model's input and an inner output.
    base = Sequential([Dense(8, input_dim=4, name="features"), Dense(2, name="head")])
    features = Model(input=base.input, output=base.get_layer("features").output)
    x = np.ones((2, 4), "float32")
    W, b = base.get_layer("features").get_weights()
    np.testing.assert_allclose(features.predict(x), x @ W + b, rtol=1e-6)


def test_nodes_list_tensors_as_keras_does():
    a = Input(shape=(3,))
    node = a.layer.inbound_nodes[0]
    assert node.input_tensors == [a] and node.output_tensors == [a]
    assert node.inbound_layers == [] and node.input_shapes == [(None, 3)]
    dense = Dense(2)
    b = Input(shape=(3,))
    dense(a)
    dense(b)
    assert dense.inbound_nodes[0].input_tensors == [a]
    assert dense.inbound_nodes[1].input_tensors == [b]
    assert dense.inbound_nodes[1].node_indices == [0]


def test_layer_indices_of_inputs_and_outputs():
    _, _, model = two_branch_model()
    assert model.input_layers_node_indices == [0, 0]
    assert model.input_layers_tensor_indices == [0, 0]
    assert model.output_layers_node_indices == [0, 0]
    assert model.output_layers_tensor_indices == [0, 0]
    assert [layer.name for layer in model.output_layers] == ["joined", "side"]


def test_get_source_inputs_walks_back_to_the_inputs():
    a, b, model = two_branch_model()
    assert get_source_inputs(model.outputs[0]) == [a, b]
    assert get_source_inputs(model.outputs[1]) == [b]
    assert get_source_inputs(a) == [a]


def test_get_output_shape_for_uses_the_shapes_it_is_given():
    _, _, model = two_branch_model()
    assert model.get_output_shape_for([(None, 32), (None, 32)]) == [(None, 32), (None, 5)]
    assert model.get_output_shape_for([(10, 32), (10, 32)]) == [(10, 32), (10, 5)]
    with pytest.raises(ValueError, match="expects inputs of shape"):
        model.get_output_shape_for([(None, 31), (None, 32)])


def test_compute_mask_gives_one_entry_per_output():
    a, b, model = two_branch_model()
    assert model.compute_mask([a, b], [None, None]) == [None, None]
    single = Sequential([Dense(3, input_dim=4)])
    assert single.compute_mask(single.input, None) is None


def test_merge_with_a_function_mode_saves_its_code_for_trusted_loads():
    from lamella import backend as K
    from lamella.engine.serialization import loading

    a, b = Input(shape=(2,)), Input(shape=(3,))
    joined = merge(
        [a, b],
        mode=lambda t: K.concatenate([t[0], t[1]]),
        output_shape=lambda s: (s[0][0], s[0][1] + s[1][1]),
    )
    config = Model([a, b], joined).get_config()
    with pytest.raises(ValueError, match=r"Refusing to load Merge layer .*safe_mode=False"):
        Model.from_config(config)
    with loading(safe=False):
        rebuilt = Model.from_config(config)
    x, y = np.ones((2, 2), "float32"), np.full((2, 3), 2.0, "float32")
    np.testing.assert_array_equal(rebuilt.predict([x, y]), np.concatenate([x, y], axis=1))


def test_sequential_model_and_keras_function_builders():
    import torch

    model = Sequential([Dense(2, input_dim=3)])
    assert model.model is model
    with pytest.raises(RuntimeError, match="compile"):
        model._make_train_function()
    model.compile(torch.optim.SGD, "mse")
    model._make_train_function()  # the step exists from compile on: nothing to build
    model._make_predict_function()


def test_a_merge_mode_that_takes_gradients_predicts_and_trains():
    """Keras's mnist_swwae: the max-pooling switches as the gradient of the pooled sum."""
    import torch

    from lamella import backend as K
    from lamella.layers import Lambda

    x = Input(shape=(6,))
    h = Dense(6, init="identity", bias=False)(x)
    pooled = Lambda(lambda t: K.max(K.reshape(t, (-1, 3, 2)), axis=-1))(h)

    def where(tensors):
        before, after = tensors
        return K.gradients(K.sum(after), before)  # a list of one: the merge's one output

    switches = merge([h, pooled], mode=where, output_shape=lambda shapes: shapes[0])
    model = Model(x, switches)
    a = np.array([[1, 3, 5, 4, 0, -1]], "float32")
    expected = np.array([[0, 1, 1, 0, 1, 0]], "float32")
    np.testing.assert_array_equal(model.predict(a), expected)
    np.testing.assert_array_equal(K.function([x], [switches])([a])[0], expected)
    model.compile(torch.optim.SGD, "mse")
    assert model.train_on_batch(a, expected) == pytest.approx(0.0)


def test_masks_of_calls_and_repeated_inputs():
    a = Input(shape=(3,))
    dense = Dense(2)
    dense(a)
    assert dense.input_mask is None and dense.output_mask is None
    assert dense.get_input_mask_at(0) is None and dense.get_output_mask_at(0) is None
    with pytest.raises(ValueError, match="more than once"):
        Model([a, a], dense.output)
