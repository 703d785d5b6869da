"""Keras 1's ImageDataGenerator program: augmentation feeding fit_generator, then
evaluate_generator and predict_generator."""

from __future__ import annotations

import numpy as np


def test_image_data_generator_feeds_fit_and_evaluate_generator():
    from lamella.layers import Dense, Flatten
    from lamella.models import Sequential
    from lamella.preprocessing.image import ImageDataGenerator
    from lamella.utils.np_utils import to_categorical

    rng = np.random.default_rng(0)
    X_train = rng.random((64, 3, 8, 8)).astype("float32")
    labels = (X_train[:, 0].mean((1, 2)) > X_train[:, 1].mean((1, 2))).astype("int64")
    Y_train = to_categorical(labels, 2)

    datagen = ImageDataGenerator(
        featurewise_center=True,
        featurewise_std_normalization=True,
        rotation_range=20,
        width_shift_range=0.2,
        height_shift_range=0.2,
        horizontal_flip=True,
        dim_ordering="th",
    )
    # compute quantities required for featurewise normalization
    datagen.fit(X_train)

    model = Sequential([Flatten(input_shape=(3, 8, 8)), Dense(2, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    # fits the model on batches with real-time data augmentation:
    history = model.fit_generator(
        datagen.flow(X_train, Y_train, batch_size=16, seed=1),
        samples_per_epoch=len(X_train),
        nb_epoch=3,
        verbose=0,
    )
    assert len(history.history["loss"]) == 3
    assert all(np.isfinite(history.history["loss"]))

    loss, accuracy = model.evaluate_generator(
        datagen.flow(X_train, Y_train, batch_size=16), val_samples=len(X_train)
    )
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    predictions = model.predict_generator(
        datagen.flow(X_train, batch_size=16, shuffle=False), val_samples=len(X_train)
    )
    assert predictions.shape == (64, 2)
