"""Configs and paths from elsewhere cost bounded memory and time (issue 17, items 3, 6, 8).

A config of a few bytes may declare a model of any size, and YAML aliases let a few
hundred bytes expand to 10^9 values; neither may allocate before a clear error.
"""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest
import torch
import yaml

import lamella.plugins as P
from lamella.engine import serialization
from lamella.engine.saving import load_model
from lamella.layers.core import Dense
from lamella.models import Sequential, model_from_config, model_from_json, model_from_yaml
from lamella.utils.messages import quoted


def dense_json(units: int, inputs: int) -> str:
    layer = {"class_name": "Dense",
             "config": {"name": "dense_9", "output_dim": units, "input_dim": inputs,
                        "batch_input_shape": [None, inputs]}}  # fmt: skip
    return json.dumps({"class_name": "Sequential", "config": [layer]})


# -- a config's declared size (item 3) ------------------------------------------------------


def test_a_100_byte_config_declaring_14_gb_is_refused_before_allocating(monkeypatch):
    """Dense(60000, input_dim=60000) is 3.6e9 float32 values: counted on torch's meta
    device, where nothing is allocated, and refused with the limit and how to raise it."""
    devices: list[str] = []
    real_build = Dense.build

    def spying_build(self, input_shape):
        devices.append(torch.empty(0).device.type)
        real_build(self, input_shape)

    monkeypatch.setattr(Dense, "build", spying_build)
    text = dense_json(60000, 60000)
    started = time.perf_counter()
    with pytest.raises(ValueError) as caught:
        model_from_json(text)
    assert time.perf_counter() - started < 10
    message = str(caught.value)
    assert "model_from_json" in message
    assert "3,600,060,000 weight values" in message
    assert f"{serialization.MAX_PARAMS:,}" in message
    assert "max_params=" in message
    assert devices == ["meta"]


@pytest.mark.parametrize("load", ["json", "yaml", "config"])
def test_max_params_is_the_callers_limit(load):
    """Dense(100, input_dim=100) has 100 * 100 + 100 = 10,100 weight values."""
    text = dense_json(100, 100)
    loaders = {
        "json": lambda limit: model_from_json(text, max_params=limit),
        "yaml": lambda limit: model_from_yaml(yaml.safe_dump(json.loads(text)), max_params=limit),
        "config": lambda limit: model_from_config(json.loads(text), max_params=limit),
    }
    with pytest.raises(ValueError, match=r"10,100 weight values, more than the limit of 10,099"):
        loaders[load](10_099)
    assert loaders[load](10_100).count_params() == 10_100
    assert loaders[load](None).count_params() == 10_100  # no limit at all


def test_the_count_includes_buffers_and_nested_models():
    inner = Sequential([Dense(5, input_dim=4)], name="inner")
    from lamella.layers import BatchNormalization

    outer = Sequential([inner, BatchNormalization()])  # 25 + 4 * 5 (two of them buffers)
    config = {"class_name": "Sequential", "config": outer.get_config()}
    assert model_from_config(config, max_params=45).count_params() == 45
    with pytest.raises(ValueError, match="45 weight values, more than the limit of 44"):
        model_from_config(config, max_params=44)


def test_counting_leaves_automatic_names_as_they_were():
    """The count builds the model once more; layers made afterwards are named as before."""
    text = Sequential([Dense(2, input_dim=3)]).to_json()
    first = model_from_json(text).name
    second = model_from_json(text).name
    number = int(first.rsplit("_", 1)[1])
    assert second == f"sequential_{number + 1}"


def test_a_custom_layer_from_custom_objects_is_counted_too():
    class Twice(Dense):
        pass

    model = Sequential([Twice(3, input_dim=2)])
    text = model.to_json().replace('"Dense"', '"Twice"')
    assert model_from_json(text, custom_objects={"Twice": Twice}).count_params() == 9
    with pytest.raises(ValueError, match="9 weight values"):
        model_from_json(text, custom_objects={"Twice": Twice}, max_params=8)


def test_max_params_must_be_a_whole_number():
    with pytest.raises(TypeError, match=r"max_params must be a positive int or None, got '1e6'"):
        model_from_json(dense_json(2, 2), max_params="1e6")


# -- YAML aliases through error messages (item 6) -------------------------------------------


def alias_bomb(levels: int, tail: str) -> str:
    """YAML whose last anchor expands to 10 ** levels strings."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join([*lines, tail.replace("BOMB", f"*l{levels - 1}")])


@pytest.mark.parametrize(
    "tail",
    [
        "class_name: Sequential\nconfig: BOMB",  # a layer config that is a list
        "class_name: Sequential\nconfig: [{class_name: Dense, config: {output_dim: BOMB}}]",
    ],
    ids=["layer-config", "layer-argument"],
)
def test_a_yaml_alias_bomb_is_refused_quickly_with_a_short_message(tail):
    """600 bytes expanding to 10^9 values hit MemoryError after 40 s inside an f-string."""
    text = alias_bomb(9, tail)
    assert len(text) < 700
    started = time.perf_counter()
    with pytest.raises(ValueError) as caught:
        model_from_yaml(text)
    assert time.perf_counter() - started < 10
    assert len(str(caught.value)) < 1000
    assert "aliases" in str(caught.value)


def test_an_error_about_a_big_config_value_quotes_it_short():
    """10^4 values (within the alias allowance) where a layer config should be."""
    text = alias_bomb(4, "class_name: Sequential\nconfig: BOMB")
    with pytest.raises(ValueError, match="must be a mapping") as caught:
        model_from_yaml(text)
    assert len(str(caught.value)) < 1000


def test_yaml_without_aliases_is_never_too_big():
    """The allowance is per byte of text: a long honest config is never refused for it."""
    model = Sequential([Dense(2, input_dim=3)] + [Dense(2) for _ in range(200)])
    assert len(model_from_yaml(model.to_yaml()).layers) == 201


def test_quoted_is_short_and_never_expands_the_whole_value():
    nested: list = ["x"] * 10
    for _ in range(8):
        nested = [nested] * 10  # 10^9 leaves
    started = time.perf_counter()
    text = quoted(nested)
    assert time.perf_counter() - started < 1
    assert len(text) <= 200
    assert quoted("short") == "'short'"
    assert quoted({"a": 1}) == "{'a': 1}"
    assert len(quoted("y" * 10**6)) < 100


def test_an_unknown_name_from_a_config_is_quoted_short():
    with pytest.raises(ValueError, match="Unknown layer") as caught:
        model_from_config({"class_name": "Q" * 100_000, "config": {}})
    assert len(str(caught.value)) < 2000


# -- only regular files go to a serializer (item 8) ------------------------------------------


@pytest.fixture
def fake_format(monkeypatch):
    """A '.fake' serializer that records the paths it was asked to read."""
    opened: list[str] = []

    def read(path, *args):
        with open(path, "rb"):  # what a real reader does first: blocks on a pipe
            opened.append(path)
        return Sequential([Dense(1, input_dim=1)])

    P.register(
        "serializers",
        P.Serializer("fake", (".fake",), None, read, None, lambda m, p, b: read(p)),
        aliases=(".fake",),
    )
    yield opened
    P.unregister("serializers", "fake")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("action", ["load_model", "load_weights"])
def test_a_named_pipe_never_reaches_a_serializer(tmp_path, fake_format, action):
    pipe = tmp_path / "model.fake"
    os.mkfifo(pipe)
    outcome: list[BaseException | None] = []

    def attempt():
        try:
            if action == "load_model":
                load_model(str(pipe))
            else:
                Sequential([Dense(1, input_dim=1)]).load_weights(str(pipe))
            outcome.append(None)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("a named pipe reached the serializer, which blocked")
    (error,) = outcome
    assert isinstance(error, OSError)
    assert "model.fake" in str(error) and "not a regular file" in str(error)
    assert fake_format == []


def test_a_regular_file_and_a_folder_still_reach_the_serializer(tmp_path, fake_format):
    """Only what blocks or streams is refused: a format may be a folder."""
    path = tmp_path / "model.fake"
    path.write_bytes(b"")
    assert isinstance(load_model(str(path)), Sequential)
    folder = tmp_path / "saved.fake"
    folder.mkdir()
    with pytest.raises(IsADirectoryError):
        load_model(str(folder))  # the fake serializer's open() refuses it, not core
    assert fake_format == [str(path)]
    np.testing.assert_equal(len(fake_format), 1)
