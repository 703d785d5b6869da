"""An unknown name says what was probably meant, and for a layer how to pass one's own.

A config naming a layer class nobody registered is the commonest load failure of a
custom layer: the message must name ``custom_objects`` and stay short.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lamella.engine.topology import Layer
from lamella.models import Sequential, model_from_config, model_from_json, model_from_yaml
from lamella.plugins import UnknownNameError, registry
from lamella.plugins import get as lookup


class MyDense(Layer):
    """Doubles its input: a custom layer no plugin registers."""

    def call(self, x, mask=None):
        return 2 * x

    def get_output_shape_for(self, input_shape):
        return input_shape


def saved() -> str:
    model = Sequential([MyDense(input_shape=(3,))])
    return model.to_json()


@pytest.mark.parametrize(
    "load",
    [
        lambda text, **kw: model_from_json(text, **kw),
        lambda text, **kw: model_from_yaml(json.dumps(json.loads(text)), **kw),
        lambda text, **kw: model_from_config(json.loads(text), **kw),
    ],
    ids=["model_from_json", "model_from_yaml", "model_from_config"],
)
def test_an_unknown_layer_says_to_pass_custom_objects_and_that_works(load):
    text = saved()
    with pytest.raises(UnknownNameError) as caught:
        load(text)
    message = str(caught.value)
    assert message.startswith("Unknown layer: 'MyDense'. Did you mean: 'Dense'")
    assert "custom_objects={'MyDense': MyDense}" in message
    for name in ("load_model", "model_from_json", "model_from_yaml"):
        assert name in message
    model = load(text, custom_objects={"MyDense": MyDense})  # the advice, followed
    np.testing.assert_allclose(model.predict(np.ones((2, 3))), 2 * np.ones((2, 3)))


def test_an_unknown_layer_lists_close_matches_not_every_layer():
    names = registry("layers").names()
    assert len(names) > 12
    message = str(UnknownNameError("layers", "Dens", names))
    assert "Did you mean: 'Dense'" in message
    assert f"{len(names)} layers are registered; 'lamella plugins' lists them." in message
    listed = [n for n in names if f"'{n}'" in message or f" {n}," in message]
    assert len(listed) <= 5, listed
    assert len(message) < 600


def test_a_short_registry_is_listed_whole_and_other_kinds_get_no_layer_advice():
    short = str(UnknownNameError("activations", "rellu", ["relu", "tanh", "softmax"]))
    assert short == (
        "Unknown activation: 'rellu'. Did you mean: 'relu'? "
        "Registered activations: relu, softmax, tanh."
    )
    with pytest.raises(UnknownNameError) as caught:
        lookup("losses", "msee")
    assert "Did you mean: 'mse'" in str(caught.value)
    assert "custom_objects" not in str(caught.value)
