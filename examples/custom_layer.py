"""Write a layer with trainable weights the Keras 1 way, train it, save it as JSON and load it.

    python examples/custom_layer.py

``TrainableActivation`` is a leaky ReLU whose negative slopes are learned, one per
unit, with a second slope below a threshold ``theta``::

    f(x) = x            for x > 0
    f(x) = alpha1 * x   for theta < x <= 0
    f(x) = alpha2 * x   for x <= theta

It is the Keras 1 recipe unchanged: ``build`` creates the weights with an
initializer from ``initializations.get`` and lists them in
``self.trainable_weights``; ``call`` computes with backend functions;
``get_output_shape_for`` and ``get_config`` let the model print its summary and
be saved.  The program trains it between two Dense layers on scikit-learn's
8x8 digits, prints how far the slopes moved from their zero start, then rebuilds
the model from its JSON with ``custom_objects`` and checks that the copy predicts
the same.  With the defaults (40 epochs, seed 1337) it reaches 0.9722 test
accuracy (seeds 1 and 2 give 0.9750 and 0.9694) in about 5 s on two CPU cores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from _data import check, load, parser

from lamella import backend as K
from lamella import initializations
from lamella.engine import Layer
from lamella.layers import Activation, Dense, Dropout
from lamella.models import Sequential, model_from_json
from lamella.utils.np_utils import to_categorical


class TrainableActivation(Layer):
    """A two-slope leaky ReLU whose slopes train with the rest of the model."""

    def __init__(self, init: str = "zero", theta: float = -5.0, **kwargs: Any):
        self.init_name = init  # the name, not the function, goes into get_config
        self.init = initializations.get(init)
        self.theta = theta
        super().__init__(**kwargs)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        features = input_shape[1:]  # one slope per unit; the batch axis shares them
        self.alpha1 = self.init(features, name=f"{self.name}_alpha1")
        self.alpha2 = self.init(features, name=f"{self.name}_alpha2")
        self.trainable_weights = [self.alpha1, self.alpha2]

    def call(self, x: Any, mask: Any = None) -> Any:
        negative = K.cast(x <= 0.0, K.floatx())
        far = K.cast(x <= self.theta, K.floatx())  # a subset of the negatives
        slope = self.alpha1 * (negative - far) + self.alpha2 * far
        return K.relu(x) + slope * x

    def get_output_shape_for(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape  # elementwise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init": self.init_name, "theta": self.theta}


def build() -> Sequential:
    model = Sequential()
    model.add(Dense(64, input_dim=64, init="he_normal"))
    model.add(TrainableActivation(init="zero", theta=-2.0))
    model.add(Dropout(0.2))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    return model


def main() -> None:
    args = parser(__doc__, epochs=40).parse_args()

    import torch

    torch.manual_seed(args.seed)
    x_train, labels_train, x_test, labels_test = load(args.seed)

    model = build()
    model.summary()
    layer = model.layers[1]
    before = [K.get_value(w).copy() for w in layer.trainable_weights]
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    y_train, y_test = to_categorical(labels_train, 10), to_categorical(labels_test, 10)
    model.fit(x_train, y_train, nb_epoch=args.epochs, verbose=2, validation_split=0.1)
    for name, start, weight in zip(
        ("alpha1", "alpha2"), before, layer.trainable_weights, strict=True
    ):
        now = K.get_value(weight)
        print(
            f"{name}: started at {start.mean():.4f} everywhere, now mean {now.mean():.4f}, "
            f"range {now.min():.4f} .. {now.max():.4f}"
        )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy: {accuracy:.4f}")

    text = model.to_json()
    try:
        model_from_json(text)
    except ValueError as exc:  # lamella builds only the layers it knows by name
        print(f"Loading the JSON without custom_objects fails: {str(exc).split('. ')[0]}")
    copy = model_from_json(text, custom_objects={"TrainableActivation": TrainableActivation})
    copy.set_weights(model.get_weights())
    same = np.allclose(copy.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    print(
        f"Reloaded from JSON with custom_objects: {type(copy.layers[1]).__name__} "
        f"theta={copy.layers[1].theta}, same predictions: {same}"
    )
    if not same:
        raise SystemExit("FAILED: the model rebuilt from JSON predicts differently")
    check(accuracy, args.expect)


if __name__ == "__main__":
    main()
