"""A model used as a layer, in JSON: its calls are numbered as Keras numbers them.

A Keras model has a node 0 of its own (its inputs to its outputs), so a model's config
numbers the calls of a model nested in it from 1. lamella writes and reads that
numbering, so Keras 1 files with nested models rebuild the same graph.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from lamella.layers import Dense, Input
from lamella.models import Model, model_from_json


def keras1_dense(name: str, units: int, activation: str) -> dict:
    """A Dense entry as Keras 1.2.2's ``to_json`` writes it (no inbound nodes yet)."""
    config = {
        "name": name,
        "trainable": True,
        "output_dim": units,
        "init": "glorot_uniform",
        "activation": activation,
        "W_regularizer": None,
        "b_regularizer": None,
        "activity_regularizer": None,
        "W_constraint": None,
        "b_constraint": None,
        "bias": True,
        "input_dim": 3,
    }
    return {"name": name, "class_name": "Dense", "config": config}


def keras1_input(name: str) -> dict:
    config = {"batch_input_shape": [None, 3], "input_dtype": "float32", "sparse": False}
    return {"name": name, "class_name": "InputLayer", "config": {**config, "name": name}}


def keras1_json() -> dict:
    """``outer``: ``inner`` (one tanh Dense) applied twice, then a linear ``head``; its
    outputs are the first call of ``inner`` and the head. Keras 1 numbers ``inner``'s
    calls 1 and 2."""
    inner = {
        "name": "inner",
        "class_name": "Model",
        "config": {
            "name": "inner",
            "layers": [
                {**keras1_input("inner_in"), "inbound_nodes": []},
                {**keras1_dense("inner_dense", 3, "tanh"), "inbound_nodes": [[["inner_in", 0, 0]]]},
            ],
            "input_layers": [["inner_in", 0, 0]],
            "output_layers": [["inner_dense", 0, 0]],
        },
        "inbound_nodes": [[["outer_in", 0, 0]], [["inner", 1, 0]]],
    }
    layers = [
        {**keras1_input("outer_in"), "inbound_nodes": []},
        inner,
        {**keras1_dense("head", 2, "linear"), "inbound_nodes": [[["inner", 2, 0]]]},
    ]
    config = {
        "name": "outer",
        "layers": layers,
        "input_layers": [["outer_in", 0, 0]],
        "output_layers": [["inner", 1, 0], ["head", 0, 0]],
    }
    return {"class_name": "Model", "config": config, "keras_version": "1.2.2"}


def expected(model: Model, x: np.ndarray) -> list[np.ndarray]:
    """The outputs by numpy: the first call of ``inner``, and the head after the second."""
    w, b, w_head, b_head = model.get_weights()
    once = np.tanh(x @ w + b)
    return [once, np.tanh(once @ w + b) @ w_head + b_head]


def renumbered(config: dict, shift: int) -> dict:
    """``config`` with every reference to ``inner`` moved by ``shift``."""
    config = copy.deepcopy(config)
    body = config["config"]
    refs = [ref for layer in body["layers"] for node in layer["inbound_nodes"] for ref in node]
    for ref in refs + body["input_layers"] + body["output_layers"]:
        if ref[0] == "inner":
            ref[1] += shift
    return config


X = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")


def test_a_keras1_config_with_a_model_called_twice_rebuilds_the_same_graph():
    model = model_from_json(json.dumps(keras1_json()))
    once, head = model.predict(X)
    want = expected(model, X)
    np.testing.assert_allclose(once, want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(head, want[1], rtol=1e-5, atol=1e-6)


def test_lamella_writes_keras_numbering_and_reads_it_back():
    inner_in = Input(shape=(3,), name="inner_in")
    inner = Model(inner_in, Dense(3, activation="tanh", name="inner_dense")(inner_in), name="inner")
    outer_in = Input(shape=(3,), name="outer_in")
    once = inner(outer_in)
    model = Model(outer_in, [once, Dense(2, name="head")(inner(once))], name="outer")

    written = json.loads(model.to_json())
    body = written["config"]
    nodes = {layer["name"]: layer["inbound_nodes"] for layer in body["layers"]}
    assert nodes["inner"] == [[["outer_in", 0, 0]], [["inner", 1, 0]]]
    assert nodes["head"] == [[["inner", 2, 0]]]
    assert body["output_layers"] == [["inner", 1, 0], ["head", 0, 0]]

    rebuilt = model_from_json(model.to_json())
    rebuilt.set_weights(model.get_weights())
    for got, want in zip(rebuilt.predict(X), expected(model, X), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_config_counting_a_nested_models_calls_from_0_still_loads():
    """lamella's own configs counted a nested model's calls from 0 before they followed
    Keras; a reference to node 0 of a nested model can only mean that numbering."""
    model = model_from_json(json.dumps(renumbered(keras1_json(), -1)))
    for got, want in zip(model.predict(X), expected(model, X), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
