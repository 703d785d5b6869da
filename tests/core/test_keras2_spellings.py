"""Keras 2 spellings of core's layers and utilities: the same layer as its Keras 1 spelling
(config, weights, output), the Keras 2 defaults where they differ, and errors for mixing."""

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella import constraints, regularizers
from lamella.layers import (
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dot,
    Dropout,
    Embedding,
    GaussianDropout,
    GaussianNoise,
    Input,
    Maximum,
    Merge,
    Multiply,
    PReLU,
    add,
    concatenate,
    dot,
)
from lamella.models import Model, model_from_json
from lamella.utils.np_utils import to_categorical

RNG = np.random.default_rng(5)


def same_layer(keras2, keras1, input_shape, dtype="float32"):
    """Both spellings build the same layer: config, weights and output."""
    two, one = keras2(), keras1()
    outputs = []
    for layer in (two, one):
        x = Input(shape=input_shape, dtype=dtype)
        torch.manual_seed(0)  # the weights are drawn when the layer is built
        outputs.append(Model(x, layer(x)))
    config_two = {k: v for k, v in two.get_config().items() if k != "name"}
    config_one = {k: v for k, v in one.get_config().items() if k != "name"}
    assert config_two == config_one
    for a, b in zip(two.get_weights(), one.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    if dtype == "int32":
        data = RNG.integers(0, 5, size=(3, *input_shape)).astype(dtype)
    else:
        data = RNG.normal(size=(3, *input_shape)).astype(dtype)
    np.testing.assert_allclose(outputs[0].predict(data), outputs[1].predict(data), rtol=1e-6)


CASES = {
    "Dense": (
        lambda: Dense(
            units=4,
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=regularizers.l2(0.1),
            kernel_constraint=constraints.max_norm(max_value=3),
            activity_regularizer=regularizers.l1(0.01),
        ),
        lambda: Dense(
            output_dim=4,
            bias=False,
            init="he_normal",
            W_regularizer=regularizers.l2(0.1),
            W_constraint=constraints.maxnorm(m=3),
            activity_regularizer=regularizers.l1(0.01),
        ),
        (3,),
    ),
    "Dense-bias": (
        lambda: Dense(
            5, bias_regularizer="l2", bias_constraint="non_neg", bias_initializer="zeros"
        ),
        lambda: Dense(5, b_regularizer="l2", b_constraint="nonneg"),
        (3,),
    ),
    "Dropout": (lambda: Dropout(rate=0.3, seed=1), lambda: Dropout(p=0.3), (4,)),
    "GaussianNoise": (lambda: GaussianNoise(stddev=0.2), lambda: GaussianNoise(sigma=0.2), (4,)),
    "GaussianDropout": (lambda: GaussianDropout(rate=0.2), lambda: GaussianDropout(p=0.2), (4,)),
    "Embedding": (
        lambda: Embedding(
            10, 3, embeddings_initializer="random_normal", embeddings_regularizer="l2"
        ),
        lambda: Embedding(10, 3, init="normal", W_regularizer="l2"),
        (4,),
        "int32",
    ),
    "BatchNormalization": (
        lambda: BatchNormalization(
            axis=-1,
            momentum=0.9,
            epsilon=1e-4,
            center=True,
            scale=True,
            beta_initializer="zeros",
            gamma_initializer="ones",
            moving_mean_initializer="zeros",
            moving_variance_initializer="ones",
        ),
        lambda: BatchNormalization(
            axis=-1, momentum=0.9, epsilon=1e-4, beta_init="zero", gamma_init="one"
        ),
        (4,),
    ),
    "PReLU": (lambda: PReLU(alpha_initializer="zeros"), lambda: PReLU(init="zero"), (4,)),
    "Activation": (lambda: Activation("relu"), lambda: Activation("relu"), (4,)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras2_spelling_builds_the_same_layer(case):
    same_layer(*CASES[case])


def test_merge_layers_are_keras1_merges_and_save_as_them():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    x = RNG.normal(size=(2, 3)).astype("float32")
    y = RNG.normal(size=(2, 3)).astype("float32")
    pairs = [
        (Add()([a, b]), x + y),
        (add([a, b]), x + y),
        (Multiply()([a, b]), x * y),
        (Average()([a, b]), (x + y) / 2),
        (Maximum()([a, b]), np.maximum(x, y)),
        (Concatenate(axis=-1)([a, b]), np.concatenate([x, y], -1)),
        (concatenate([a, b], axis=1), np.concatenate([x, y], -1)),
        (Dot(axes=1)([a, b]), (x * y).sum(-1, keepdims=True)),
        (
            dot([a, b], axes=1, normalize=True),
            (x * y).sum(-1, keepdims=True)
            / np.linalg.norm(x, axis=-1, keepdims=True)
            / np.linalg.norm(y, axis=-1, keepdims=True),
        ),
    ]
    model = Model(inputs=[a, b], outputs=[tensor for tensor, _ in pairs])
    for value, (_, expected) in zip(model.predict([x, y]), pairs, strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)
    assert all(isinstance(t.layer, Merge) for t, _ in pairs)
    text = model.to_json()
    assert '"class_name": "Merge"' in text and '"Add"' not in text  # files stay Keras 1's
    again = model_from_json(text)
    for got, want in zip(again.predict([x, y]), model.predict([x, y]), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_keras2_defaults_and_mixed_spellings():
    assert Dense(3).get_config() == {**Dense(output_dim=3).get_config(), "name": "dense_1"}
    with pytest.raises(TypeError, match=r"Dense: 'units' \(Keras 2\) and 'output_dim'"):
        Dense(3, units=3)
    with pytest.raises(TypeError, match=r"'use_bias' \(Keras 2\) and 'bias'"):
        Dense(3, use_bias=True, bias=True)
    with pytest.raises(ValueError, match=r"Dense: bias_initializer='ones' is not supported"):
        Dense(3, bias_initializer="ones")
    with pytest.raises(TypeError, match="not understood: nonsense"):
        Dense(3, nonsense=1)
    with pytest.raises(TypeError, match=r"'num_classes' \(Keras 2\) and 'nb_classes'"):
        to_categorical([1], nb_classes=2, num_classes=2)
    np.testing.assert_array_equal(to_categorical([0, 2], num_classes=3), np.eye(3)[[0, 2]])


def test_functional_model_with_inputs_and_outputs_and_data_format():
    x = Input(shape=(4,))
    model = Model(inputs=x, outputs=Dense(units=2)(x))
    assert model.input is x and model.output_shape == (None, 2)
    saved = K.image_dim_ordering()
    try:
        K.set_image_data_format("channels_last")
        assert K.image_dim_ordering() == "tf" and K.image_data_format() == "channels_last"
        K.set_image_data_format("channels_first")
        assert K.image_dim_ordering() == "th"
        with pytest.raises(ValueError, match="channels_first' or 'channels_last'"):
            K.set_image_data_format("tf")
    finally:
        K.set_image_dim_ordering(saved)


def batches_of(x, y, size):
    """A Keras-style endless generator of (x, y) batches, counting what it gave."""
    given = []

    def generate():
        while True:
            for start in range(0, len(x), size):
                given.append(start)
                yield x[start : start + size], y[start : start + size]

    return generate(), given


def small_model():
    model = Dense(1, input_dim=3)
    from lamella.models import Sequential

    net = Sequential([model])
    net.compile(torch.optim.SGD, "mse")
    return net


def test_fit_generator_counts_keras2_steps_and_keras2_epochs():
    from lamella.callbacks import Callback

    class Steps(Callback):
        def on_train_begin(self, logs=None):
            self.batches, self.epochs = 0, 0

        def on_batch_end(self, batch, logs=None):
            self.batches += 1

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

    x = RNG.normal(size=(40, 3)).astype("float32")
    y = x.sum(1, keepdims=True)
    model = small_model()
    count = Steps()
    generator, _ = batches_of(x, y, 8)
    model.fit_generator(generator, steps_per_epoch=3, epochs=2, callbacks=[count], verbose=0)
    assert (count.epochs, count.batches) == (2, 6)  # 3 batches per epoch, 2 epochs
    model.fit_generator(generator, steps_per_epoch=2, callbacks=[count], verbose=0)
    assert (count.epochs, count.batches) == (1, 2)  # Keras 2's default: one epoch
    model.fit_generator(generator, 16, 1, callbacks=[count], verbose=0)
    assert count.batches == 2  # positional: Keras 1's samples, 16 of them in batches of 8
    validation, _ = batches_of(x, y, 10)
    history = model.fit_generator(
        generator,
        steps_per_epoch=1,
        epochs=1,
        validation_data=validation,
        validation_steps=3,
        max_queue_size=2,
        workers=1,
        use_multiprocessing=False,
        verbose=0,
    )
    assert "val_loss" in history.history
    with pytest.raises(TypeError, match="not both"):
        model.fit_generator(generator, samples_per_epoch=8, steps_per_epoch=1)
    with pytest.raises(TypeError, match=r"'epochs' \(Keras 2\) and 'nb_epoch'"):
        model.fit(x, y, nb_epoch=1, epochs=1)


def test_evaluate_and_predict_generator_count_steps():
    x = RNG.normal(size=(30, 3)).astype("float32")
    y = x.sum(1, keepdims=True)
    model = small_model()
    generator, _ = batches_of(x, y, 10)
    loss = model.evaluate_generator(generator, steps=2, workers=1, max_queue_size=1)
    expected = ((model.predict(x[:20]) - y[:20]) ** 2).mean()
    assert loss == pytest.approx(float(expected), rel=1e-5)
    generator, _ = batches_of(x, y, 10)
    predictions = model.predict_generator(generator, steps=3, verbose=0)
    np.testing.assert_allclose(predictions, model.predict(x), rtol=1e-6)
