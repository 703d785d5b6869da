"""``K.function``, ``K.gradients``, ``K.placeholder`` and ``K.learning_phase()``.

The recipes Keras 1 users wrote against the symbolic backend: the FAQ's intermediate
layer output, saliency maps, gradient ascent on an input, updates applied by a function.
"""

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.backend import state
from lamella.layers import Activation, BatchNormalization, Dense, Dropout, Input
from lamella.models import Model, Sequential

RNG = np.random.default_rng(3)


@pytest.fixture
def free_phase():
    """Tests that fix the learning phase leave it as they found it."""
    saved = dict(vars(state._phase))
    yield
    vars(state._phase).clear()
    vars(state._phase).update(saved)


def relu(a):
    return np.maximum(a, 0)


def test_faq_intermediate_output_in_both_phases():
    model = Sequential(
        [Dense(8, input_dim=5), Activation("relu"), Dense(6), Dropout(0.5), Dense(2)]
    )
    get_3rd_layer_output = K.function(
        [model.layers[0].input, K.learning_phase()], [model.layers[3].output]
    )
    x = RNG.normal(size=(64, 5)).astype("float32")
    (W1, b1), (W2, b2) = model.layers[0].get_weights(), model.layers[2].get_weights()
    expected = relu(x @ W1 + b1) @ W2 + b2
    test_phase = get_3rd_layer_output([x, 0])[0]
    np.testing.assert_allclose(test_phase, expected, rtol=1e-5, atol=1e-5)
    train_phase = get_3rd_layer_output([x, 1])[0]
    dropped = train_phase == 0
    assert 0.3 < dropped.mean() < 0.7  # about half dropped, the rest scaled by 1 / (1 - p)
    np.testing.assert_allclose(train_phase[~dropped], 2 * expected[~dropped], rtol=1e-5, atol=1e-6)


def test_function_without_phase_input_uses_the_current_phase(free_phase):
    x = Input(shape=(100,))
    dropped = Dropout(0.5)(x)
    f = K.function([x], [dropped])
    ones = np.ones((4, 100), "float32")
    np.testing.assert_array_equal(f([ones])[0], ones)
    K.set_learning_phase(1)
    assert K.learning_phase() == 1  # a fixed phase is a number, as in Keras 1
    values = f([ones])[0]
    assert set(np.unique(values)) <= {0.0, 2.0} and 0 < (values == 0).mean() < 1


def test_learning_phase_tensor_reads_the_current_phase():
    phase = K.learning_phase()
    assert K.is_keras_tensor(phase) and K.int_shape(phase) == ()
    assert int(phase) == 0 and not phase
    with state.learning_phase_scope(1):
        assert int(phase) == 1 and phase
    x = Input(shape=(3,))
    chosen = K.switch(phase, x * 2, x - 1)
    f = K.function([x, phase], [chosen])
    a = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(f([a, 1])[0], a * 2)
    np.testing.assert_allclose(f([a, 0])[0], a - 1)


def test_placeholder_shapes_and_evaluation():
    p = K.placeholder(shape=(None, 3))
    q = K.placeholder(ndim=2, dtype="int32")
    assert K.int_shape(p) == (None, 3) and K.int_shape(q) == (None, None)
    assert K.dtype(q) == "int32"
    with pytest.raises(ValueError, match=r"shape= .*or ndim="):
        K.placeholder()
    f = K.function([p, q], [K.sum(p, axis=1) + K.cast(K.sum(q, axis=1), "float32")])
    a = np.ones((2, 3), "float32")
    c = np.array([[1, 2], [3, 4]], "int32")
    np.testing.assert_allclose(f([a, c])[0], [6.0, 10.0])


def test_saliency_matches_finite_differences():
    torch.manual_seed(0)
    model = Sequential([Dense(7, input_dim=4, activation="tanh"), Dense(3, activation="softmax")])
    c = 1
    saliency = K.gradients(K.mean(model.output[:, c]), model.input)
    assert isinstance(saliency, list) and len(saliency) == 1  # one tensor in, a list out
    assert saliency[0].shape == (None, 4)
    x = RNG.normal(size=(5, 4)).astype("float64")
    grads = K.function([model.input], saliency)([x])[0]

    def objective(batch):
        return model.predict(batch.astype("float32"))[:, c].mean()

    eps = 1e-3
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (objective(up) - objective(down)) / (2 * eps)
    np.testing.assert_allclose(grads, numeric, rtol=2e-2, atol=2e-4)


def test_gradients_with_respect_to_weights_match_autograd():
    x = Input(shape=(3,))
    dense = Dense(2)
    y = dense(x)
    loss = K.sum(K.square(y))
    grads = K.gradients(loss, [dense.W, dense.b, x])
    a = RNG.normal(size=(4, 3)).astype("float32")
    gW, gb, gx = K.function([x], grads)([a])
    W, b = dense.get_weights()
    out = a @ W + b
    np.testing.assert_allclose(gW, a.T @ (2 * out), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gb, (2 * out).sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, 2 * out @ W.T, rtol=1e-5, atol=1e-5)


def test_gradients_of_frozen_and_unused_tensors():
    x = Input(shape=(3,))
    other = Input(shape=(2,))
    dense = Dense(2, trainable=False)
    loss = K.sum(dense(x))
    grad_w, grad_other = K.gradients(loss, [dense.W, other])
    a = np.ones((2, 3), "float32")
    gw, go = K.function([x, other], [grad_w, grad_other])([a, np.ones((2, 2), "float32")])
    np.testing.assert_allclose(gw, np.full((3, 2), 2.0))  # frozen weights still have gradients
    np.testing.assert_array_equal(go, np.zeros((2, 2)))  # unused: zeros, not None
    assert not dense.W.requires_grad  # and stay frozen


def test_gradient_ascent_on_an_input_with_updates():
    """conv_filter_visualization's loop: normalised gradient steps on the input image."""
    x = Input(shape=(4,))
    dense = Dense(1)
    score = K.mean(dense(x))
    grads = K.gradients(score, x)[0]
    grads = grads / (K.sqrt(K.mean(K.square(grads))) + 1e-5)
    iterate = K.function([x], [score, grads])
    a = np.zeros((1, 4), "float32")
    scores = []
    for _ in range(3):
        value, step = iterate([a])
        scores.append(float(value))
        a = a + step
    assert scores[0] < scores[1] < scores[2]
    W = dense.get_weights()[0][:, 0]
    np.testing.assert_allclose(step[0], W / np.sqrt(np.mean(W**2)), rtol=1e-4)


def test_function_updates_pairs_and_update_ops():
    x = Input(shape=(2,))
    counter = K.variable(np.zeros(()))
    total = K.variable(np.zeros((2,)))
    last = K.variable(np.zeros(()))
    f = K.function(
        [x],
        [K.sum(x)],
        updates=[
            (counter, lambda: counter + 1),  # variables alone: recomputed when called
            (last, K.max(x)),
            K.update_add(total, K.sum(x, axis=0)),
        ],
    )
    a = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    f([a])
    f([a * 2])
    assert K.get_value(counter) == 2.0
    assert K.get_value(last) == 8.0
    np.testing.assert_allclose(K.get_value(total), [12.0, 18.0])


def test_function_keeps_running_statistics_unless_told():
    bn = BatchNormalization(input_shape=(3,))
    x = Input(shape=(3,))
    y = bn(x)
    a = RNG.normal(5.0, 2.0, size=(16, 3)).astype("float32")
    K.function([x, K.learning_phase()], [y])([a, 1])
    np.testing.assert_array_equal(K.get_value(bn.running_mean), np.zeros(3))
    model = Model(x, y)
    assert len(model.updates) == 2
    K.function([x], [y], updates=model.updates)([a])
    np.testing.assert_allclose(K.get_value(bn.running_mean), 0.01 * a.mean(0), rtol=1e-5)
    np.testing.assert_allclose(K.get_value(bn.running_std), 0.99 + 0.01 * a.var(0), rtol=1e-5)


def test_function_warns_about_backend_options_and_checks_inputs():
    x = Input(shape=(2,))
    with pytest.warns(UserWarning, match="no meaning on torch"):
        f = K.function([x], [x * 2], mode="FAST_RUN")
    with pytest.raises(ValueError, match="expected 1 input"):
        f([])
    with pytest.raises(TypeError, match="placeholders"):
        K.function([np.zeros(2)], [x])


def test_eager_gradients_keep_working():
    w = K.variable(np.array([1.0, 2.0]))
    (g,) = K.gradients(K.sum(w * w), w)  # one tensor, a list of one back
    np.testing.assert_allclose(K.get_value(g), [2.0, 4.0])
