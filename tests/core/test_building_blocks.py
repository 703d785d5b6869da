"""The building blocks every layer package uses, lamella's own and plugins' alike: argument
checks (``lamella.utils.arguments``), Keras 1's weight arguments
(``lamella.engine.weight_arguments``), registering a module's layers
(``lamella.plugins.register_layers``) and atomic writes (``lamella.utils.atomic``)."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.constraints import MaxNorm, NonNeg
from lamella.engine.topology import Layer
from lamella.engine.weight_arguments import WeightArguments
from lamella.layers.core import Dense
from lamella.plugins import layer_classes, register_layers
from lamella.regularizers import L1L2Regularizer
from lamella.utils import arguments, atomic


class Scale(WeightArguments, Layer):
    """``x * W + b`` per feature: a plugin's layer taking Keras 1's weight arguments."""

    def __init__(
        self,
        init: Any = "one",
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        weights: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.set_weight_arguments(
            weights=weights,
            bias=bias,
            init=init,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
        )

    def build(self, input_shape: Any) -> None:
        self.W = self.add_keras_weight((input_shape[-1],), self.init, "W")
        self.b = self.add_bias((input_shape[-1],))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x * self.W if self.b is None else x * self.W + self.b

    def get_config(self) -> dict[str, Any]:
        names = ("init", "W_regularizer", "b_regularizer", "W_constraint", "b_constraint", "bias")
        return {**super().get_config(), **self.weight_config(*names)}


# -- weight arguments ---------------------------------------------------------------------


def test_weight_arguments_resolve_keras_names_and_configs():
    layer = Scale(
        init="uniform",
        W_regularizer="l2",
        b_regularizer={"name": "L1L2Regularizer", "l1": 0.5},
        W_constraint="maxnorm",
    )
    assert isinstance(layer.W_regularizer, L1L2Regularizer) and layer.W_regularizer.l2 == 0.01
    assert (layer.b_regularizer.l1, layer.b_regularizer.l2) == (0.5, 0.0)
    assert isinstance(layer.W_constraint, MaxNorm) and layer.b_constraint is None
    config = json.loads(json.dumps(layer.get_config()))
    assert config["init"] == "uniform"
    assert config["W_regularizer"] == {"name": "L1L2Regularizer", "l1": 0.0, "l2": 0.01}
    assert config["b_regularizer"] == {"name": "L1L2Regularizer", "l1": 0.5, "l2": 0.0}
    assert config["W_constraint"] == {"name": "MaxNorm", "m": 2, "axis": 0}
    assert (config["b_constraint"], config["bias"]) == (None, True)
    assert Scale.from_config(config).get_config() == layer.get_config()


def test_each_weight_gets_the_regularizer_and_constraint_named_after_it():
    layer = Scale(W_regularizer="l2", b_regularizer="l1", W_constraint="maxnorm", name="s")
    layer.build((None, 3))
    w, b = np.array([1.0, -2.0, 3.0], "float32"), np.array([0.5, -0.25, 0.0], "float32")
    layer.set_weights([w, b])
    assert [x._keras_name for x in layer.trainable_weights] == ["s_W", "s_b"]
    penalty = float(sum(loss.detach() for loss in layer.losses))
    assert penalty == pytest.approx(0.01 * np.sum(w**2) + 0.01 * np.sum(np.abs(b)))
    assert len(layer.constraints) == 1 and layer.constraints[layer.W] is layer.W_constraint


def test_bias_false_builds_no_bias_and_says_so_in_the_config():
    layer = Scale(bias=False, b_regularizer="l2", b_constraint=NonNeg())
    layer.build((None, 4))
    assert layer.b is None and len(layer.trainable_weights) == 1
    assert layer.get_config()["bias"] is False
    x = torch.arange(8.0).reshape(2, 4)
    torch.testing.assert_close(layer.call(x), x)  # init 'one'


def test_initial_weights_are_used_after_build():
    w, b = np.array([2.0, 3.0], "float32"), np.array([1.0, -1.0], "float32")
    layer = Scale(weights=[w, b])
    y = layer(torch.tensor([[1.0, 1.0]]))
    np.testing.assert_allclose(y.detach().numpy(), [[3.0, 2.0]])


def test_a_weight_may_take_arguments_named_otherwise():
    """Keras 1's SeparableConvolution2D: weight ``depthwise_kernel``, argument
    ``depthwise_regularizer``."""

    class Depthwise(WeightArguments, Layer):
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self.set_weight_arguments(depthwise_regularizer="l1")

        def build(self, input_shape: Any) -> None:
            self.add_keras_weight((2,), "one", "depthwise_kernel", arguments="depthwise")

    layer = Depthwise()
    layer.build((None, 2))
    assert float(sum(loss.detach() for loss in layer.losses)) == pytest.approx(0.01 * 2)


def test_an_argument_that_is_no_weight_argument_is_refused():
    with pytest.raises(TypeError, match="'activation' is not a weight argument"):
        Scale().set_weight_arguments(activation="relu")


# -- argument checks ----------------------------------------------------------------------


def test_errors_name_the_owner_the_argument_and_the_value():
    with pytest.raises(
        ValueError, match=r"^Dense d: output_dim must be a positive integer, got 0$"
    ):
        Dense(0, name="d")

    class Thing:
        pass

    with pytest.raises(ValueError, match=r"^Thing: n must be an integer >= 2, got 1$"):
        arguments.check_int(Thing(), "n", 1, minimum=2)
    with pytest.raises(ValueError, match=r"^fit: rounds must be a positive integer, got True$"):
        arguments.check_int("fit", "rounds", True)


def test_numpy_integers_count_and_come_back_as_int():
    value = arguments.check_int("f", "n", np.int64(3))
    assert value == 3 and type(value) is int
    assert arguments.int_tuple("f", "size", (1, np.int32(2)), 2) == (1, 2)
    assert arguments.int_tuple("f", "size", 3, 3) == (3, 3, 3)
    assert arguments.int_pair("f", "pad", 0) == (0, 0)
    with pytest.raises(
        ValueError, match=r"an integer or a tuple of 2 positive integers, got \(1, 0\)"
    ):
        arguments.int_tuple("f", "size", (1, 0), 2)


def test_numbers_fractions_and_choices():
    assert arguments.check_number("Adam", "lr", np.float32(0.5), 0.0) == 0.5
    with pytest.raises(TypeError, match=r"^Adam: lr must be a number >= 0, got 'x' \(str\)$"):
        arguments.check_number("Adam", "lr", "x", 0.0)
    with pytest.raises(ValueError, match=r"must be a number in \[0, 1\), got nan"):
        arguments.check_number("Adam", "beta_1", float("nan"), 0.0, 1.0)
    assert arguments.check_fraction("LSTM", "dropout_W", 0) == 0.0
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="must be a fraction in"):
            arguments.check_fraction("LSTM", "dropout_W", bad)
    with pytest.raises(ValueError, match=r"border_mode must be 'valid' or 'same', got 'full'"):
        arguments.check_one_of("Pool", "border_mode", "full", ("valid", "same"))


def test_dim_ordering_default_reads_the_setting_at_construction():
    before = K.image_dim_ordering()
    try:
        K.set_image_dim_ordering("tf")
        assert arguments.check_dim_ordering("f", "default") == "tf"
        K.set_image_dim_ordering("th")
        assert arguments.check_dim_ordering("f", "default") == "th"
    finally:
        K.set_image_dim_ordering(before)
    with pytest.raises(ValueError, match=r"dim_ordering must be 'th', 'tf' or 'default'"):
        arguments.check_dim_ordering("f", "channels_last")


# -- registering a module's layers --------------------------------------------------------


def test_register_layers_takes_the_public_layers_a_module_defines():
    module = types.ModuleType("plugin_layers")

    class Public(Layer):
        pass

    class _Helper(Layer):
        pass

    class NotALayer:
        pass

    for cls in (Public, _Helper, NotALayer):
        cls.__module__ = module.__name__
    vars(module).update(Public=Public, _Helper=_Helper, NotALayer=NotALayer, Dense=Dense)
    calls: list[tuple[type, tuple[str, ...]]] = []

    def register(obj: Any, aliases: tuple[str, ...] = ()) -> None:
        calls.append((obj, aliases))

    register_layers(register, module, aliases=lambda name: [f"{name}2", "P", f"{name}2"])
    assert calls == [(Public, ("P", "Public2"))]
    calls.clear()
    register_layers(register, module, exclude=("Public",))
    assert calls == []


def test_layer_classes_of_a_module_by_name_in_definition_order():
    names = [cls.__name__ for cls in layer_classes("lamella.layers.noise")]
    assert names == ["GaussianNoise", "GaussianDropout"]


# -- atomic writes ------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_replacing_swaps_in_the_new_file_or_leaves_the_old_one(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"), atomic.replacing(target) as temp:
        Path(temp).write_bytes(b"ne")
        raise OSError("disk full")
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []
    with atomic.replacing(target) as temp:
        Path(temp).write_bytes(b"new")
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == []
    with (
        pytest.raises(FileExistsError, match="overwrite=False"),
        atomic.replacing(target, overwrite=False),
    ):
        pytest.fail("nothing may be written")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_save_config_writes_through_a_symbolic_link(tmp_path):
    real = tmp_path / "dotfiles" / "lamella.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "lamella.json"
    link.symlink_to(real)
    K.save_config(link)
    assert link.is_symlink()
    assert json.loads(real.read_text())["image_dim_ordering"] == K.image_dim_ordering()
    assert leftovers(tmp_path) == [] and leftovers(real.parent) == []
