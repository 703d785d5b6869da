"""Keras 1 programs that save and load models (JSON, YAML, HDF5, weights files), checkpoint
with ``ModelCheckpoint``, and train with regularizers and custom activations."""

from __future__ import annotations

import numpy as np


def test_architecture_as_json_and_yaml():
    from lamella.layers import Dense
    from lamella.models import Sequential, model_from_json, model_from_yaml

    model = Sequential([Dense(32, input_dim=16, activation="relu"), Dense(2)])
    # save as JSON
    json_string = model.to_json()
    # save as YAML
    yaml_string = model.to_yaml()
    # model reconstruction from JSON:
    model = model_from_json(json_string)
    # model reconstruction from YAML
    model = model_from_yaml(yaml_string)
    assert model.output_shape == (None, 2)


def test_save_load_and_weights_files(tmp_path, monkeypatch):
    from lamella.layers import Dense
    from lamella.models import Sequential, load_model

    monkeypatch.chdir(tmp_path)
    model = Sequential([Dense(4, input_dim=3, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.random.random((20, 3))
    expected = model.predict(x)

    model.save("my_model.h5")  # creates a HDF5 file 'my_model.h5'
    del model  # deletes the existing model
    # returns a compiled model identical to the previous one
    model = load_model("my_model.h5")
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)

    model.save_weights("my_model_weights.h5")
    model.load_weights("my_model_weights.h5")
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)


def test_model_checkpoint_with_epoch_and_val_loss_in_the_name(tmp_path):
    from lamella.callbacks import ModelCheckpoint
    from lamella.layers import Dense
    from lamella.models import Sequential

    model = Sequential([Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.random((40, 3)), np.random.random((40, 1))
    checkpoint = ModelCheckpoint(
        str(tmp_path / "weights.{epoch:02d}-{val_loss:.2f}.hdf5"), verbose=0, save_best_only=False
    )
    history = model.fit(x, y, nb_epoch=3, validation_split=0.25, callbacks=[checkpoint], verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        f"weights.{e:02d}-{v:.2f}.hdf5" for e, v in enumerate(history.history["val_loss"])
    ]


def test_regularizers_example_and_custom_activations():
    from lamella import backend as K
    from lamella.layers import Activation, Dense, Lambda
    from lamella.models import Sequential
    from lamella.regularizers import activity_l2, l2

    def sigmoid_relu(x):
        return K.relu(x) - K.relu(0.5 - K.sigmoid(x))

    def lambda_activation(x):
        return K.maximum(K.relu(x), K.sigmoid(x) - 0.5)

    model = Sequential()
    model.add(
        Dense(64, input_dim=64, W_regularizer=l2(0.01), activity_regularizer=activity_l2(0.01))
    )
    model.add(Activation(sigmoid_relu))
    model.add(Lambda(lambda_activation))
    model.add(Dense(1))
    model.compile(optimizer="rmsprop", loss="mse")
    history = model.fit(
        np.random.random((32, 64)), np.random.random((32, 1)), nb_epoch=2, verbose=0
    )
    assert len(history.history["loss"]) == 2
