"""Keras 1's custom objects: ``custom_object_scope``, ``get_custom_objects``, ``get_from_module``.

A name in the global dict (or in a load's ``custom_objects``) must be found wherever
lamella turns a name into an object: layer configs, ``model_from_json``, ``load_model``,
and string arguments such as ``W_regularizer='MyReg'``.
"""

import os
import types

import numpy as np
import pytest
import torch

from lamella import optimizers, regularizers
from lamella.engine.topology import Layer
from lamella.layers import Dense
from lamella.models import Sequential, load_model, model_from_config, model_from_json
from lamella.utils import generic_utils
from lamella.utils.generic_utils import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_from_module,
    make_tuple,
)

X = np.arange(6, dtype="float32").reshape(2, 3)


class Doubler(Layer):
    def call(self, x, mask=None):
        return 2 * x


class Tripler(Layer):
    def call(self, x, mask=None):
        return 3 * x


class SumOfWeights(regularizers.Regularizer):
    """A penalty no built-in gives: 5 * sum(w)."""

    def __call__(self, x):
        return 5 * x.sum()


@pytest.fixture(autouse=True)
def _restore_global_objects():
    saved = dict(get_custom_objects())
    yield
    get_custom_objects().clear()
    get_custom_objects().update(saved)


def _doubler_json():
    return Sequential([Doubler(input_shape=(3,))]).to_json()


def test_scope_adds_names_and_undoes_every_change_on_exit():
    get_custom_objects()["Kept"] = Tripler
    with custom_object_scope({"Doubler": Doubler}, {"Other": Tripler}) as scope:
        assert isinstance(scope, CustomObjectScope)
        assert get_custom_objects()["Doubler"] is Doubler
        assert get_custom_objects()["Other"] is Tripler
        get_custom_objects()["AddedInside"] = Doubler
        del get_custom_objects()["Kept"]
    assert get_custom_objects() == {"Kept": Tripler}


def test_scope_refuses_what_is_not_a_dict():
    with pytest.raises(TypeError, match="CustomObjectScope: argument 2 must be a dict"):
        CustomObjectScope({}, [("Doubler", Doubler)])


def test_model_from_json_needs_the_custom_layer_and_finds_it_in_the_scope():
    text = _doubler_json()
    with pytest.raises(ValueError, match="Doubler"):
        model_from_json(text)
    with custom_object_scope({"Doubler": Doubler}):
        model = model_from_json(text)
    np.testing.assert_allclose(model.predict(X), 2 * X)


def test_the_live_global_dict_is_honoured_without_a_scope():
    config = {
        "class_name": "Sequential",
        "config": Sequential([Doubler(input_shape=(3,))]).get_config(),
    }
    get_custom_objects()["Doubler"] = Doubler
    model = model_from_config(config)
    np.testing.assert_allclose(model.predict(X), 2 * X)


def test_explicit_custom_objects_win_over_the_global_ones():
    text = _doubler_json()
    with custom_object_scope({"Doubler": Doubler}):
        model = model_from_json(text, custom_objects={"Doubler": Tripler})
    np.testing.assert_allclose(model.predict(X), 3 * X)


def test_a_string_argument_finds_a_custom_regularizer_in_the_scope():
    with pytest.raises(ValueError, match="SumOfWeights"):
        Dense(2, input_dim=3, W_regularizer="SumOfWeights")
    with custom_object_scope({"SumOfWeights": SumOfWeights}):
        layer = Dense(2, input_dim=3, W_regularizer="SumOfWeights")
    assert isinstance(layer.W_regularizer, SumOfWeights)


def test_a_loads_custom_objects_reach_nested_configs_and_do_not_leak():
    model = Sequential([Dense(2, input_dim=3, W_regularizer=SumOfWeights())])
    text = model.to_json()
    with pytest.raises(ValueError, match="SumOfWeights"):
        model_from_json(text)
    loaded = model_from_json(text, custom_objects={"SumOfWeights": SumOfWeights})
    regularizer = loaded.layers[0].W_regularizer
    assert isinstance(regularizer, SumOfWeights)
    weight = loaded.layers[0].W
    np.testing.assert_allclose(regularizer(weight).item(), 5 * weight.sum().item(), rtol=1e-6)
    assert "SumOfWeights" not in get_custom_objects()
    assert "SumOfWeights" not in generic_utils.custom_objects_in_effect()


def my_loss(y_true, y_pred):
    return (y_true - y_pred).abs().mean(dim=-1)


@pytest.mark.requires("lamella-io-hdf5")
def test_load_model_finds_custom_layers_and_losses_in_the_scope(tmp_path):
    model = Sequential([Doubler(input_shape=(3,)), Dense(2)])
    model.compile(torch.optim.SGD, my_loss)
    path = os.fspath(tmp_path / "m.h5")
    model.save(path)
    with pytest.raises(ValueError, match="Doubler"):
        load_model(path)
    with custom_object_scope({"Doubler": Doubler, "my_loss": my_loss}):
        loaded = load_model(path)
    assert loaded.loss is my_loss
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6)


# -- get_from_module -----------------------------------------------------------------


def _scale(factor=2.0):
    return lambda x: factor * x


NAMESPACE = {"scale": _scale, "Dense": Dense}


def test_get_from_module_finds_names_and_builds_configs():
    assert get_from_module("scale", NAMESPACE, "function") is _scale
    assert get_from_module("scale", NAMESPACE, "function", instantiate=True)(3.0) == 6.0
    built = get_from_module("scale", NAMESPACE, "function", instantiate=True, kwargs={"factor": 5})
    assert built(3.0) == 15.0
    config = {"name": "scale", "factor": 4}
    assert get_from_module(config, NAMESPACE, "function")(3.0) == 12.0
    assert config == {"name": "scale", "factor": 4}  # the caller's dict is left alone
    assert get_from_module(_scale, NAMESPACE, "function") is _scale


def test_get_from_module_prefers_custom_objects_and_reads_modules():
    with custom_object_scope({"scale": _scale(10.0)}):
        assert get_from_module("scale", NAMESPACE, "function")(1.0) == 10.0
    module = types.ModuleType("fake")
    module.scale = _scale
    assert get_from_module("scale", module, "function") is _scale


@pytest.mark.parametrize("name", ["missing", "_scale", "np", "__builtins__"])
def test_get_from_module_refuses_unknown_private_names_and_modules(name):
    namespace = {**NAMESPACE, "_scale": _scale, "np": np, "__builtins__": __builtins__}
    with pytest.raises(ValueError, match=f"Invalid activation: '{name}'"):
        get_from_module(name, namespace, "activation")


def test_get_from_module_needs_a_name_in_a_config():
    with pytest.raises(ValueError, match="needs a 'name' key"):
        get_from_module({"factor": 2}, NAMESPACE, "function")


def test_make_tuple():
    assert make_tuple(1, "a", None) == (1, "a", None)
    assert make_tuple() == ()


class HalfSGD:
    """Stands for a custom optimizer class: the lookups only build it by name."""

    def __init__(self, lr=0.5):
        self.lr = lr

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_optimizers_get_and_from_config_find_custom_optimizers():
    with pytest.raises(ValueError, match="HalfSGD"):
        optimizers.get("HalfSGD")
    with custom_object_scope({"HalfSGD": HalfSGD}):
        assert optimizers.get("HalfSGD").lr == 0.5
        assert optimizers.get("HalfSGD", {"lr": 0.25}).lr == 0.25
        rebuilt = optimizers.optimizer_from_config({"class_name": "HalfSGD", "config": {"lr": 0.1}})
    assert rebuilt.lr == 0.1
