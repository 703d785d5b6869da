"""lamella-layers-conv registers exactly CONV_LAYERS, reachable through core's facades."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import lamella.conv
import lamella.plugins as P
from lamella.conv import convolutional, local, pooling
from lamella.plugins.first_party import CONV_LAYERS

KERAS_2_ALIASES = {
    "Conv1D": "Convolution1D",
    "Conv2D": "Convolution2D",
    "Conv3D": "Convolution3D",
    "AtrousConv1D": "AtrousConvolution1D",
    "AtrousConv2D": "AtrousConvolution2D",
    "SeparableConv2D": "SeparableConvolution2D",
    "Deconv2D": "Deconvolution2D",
    "Conv2DTranspose": "Deconvolution2D",
    **{
        f"{kind}Pool{rank}D": f"{kind.replace('Avg', 'Average')}Pooling{rank}D"
        for kind in ("Max", "Avg", "GlobalMax", "GlobalAvg")
        for rank in (1, 2, 3)
    },
}


def test_registers_exactly_conv_layers():
    layers = P.registry("layers")
    assert set(layers.lookup) >= CONV_LAYERS
    ours = {
        key
        for entry in layers.entries.values()
        if entry.provider.distribution == "lamella-layers-conv"
        for key in (entry.name, *entry.aliases)
    }
    assert ours == CONV_LAYERS


@pytest.mark.parametrize("name", sorted(CONV_LAYERS))
def test_each_name_resolves_to_its_class(name):
    canonical = KERAS_2_ALIASES.get(name, name)
    module = next(m for m in (convolutional, pooling, local) if hasattr(m, canonical))
    cls = getattr(module, canonical)
    assert P.registry("layers").get(name) is cls
    assert getattr(importlib.import_module("lamella.layers"), name) is cls


@pytest.mark.parametrize(
    ("facade", "names"),
    [
        ("lamella.layers.convolutional", ["Convolution2D", "Conv2D", "ZeroPadding2D"]),
        ("lamella.layers.pooling", ["MaxPooling2D", "GlobalAveragePooling1D"]),
        ("lamella.layers.local", ["LocallyConnected1D", "LocallyConnected2D"]),
    ],
)
def test_keras_1_module_paths(facade, names):
    module = importlib.import_module(facade)
    for name in names:
        assert getattr(module, name) is P.registry("layers").get(name)


def test_no_namespace_init():
    """lamella is a PEP 420 namespace: an __init__.py here would hide every other plugin."""
    source = Path(lamella.conv.__file__).resolve().parents[1]
    assert source.name == "lamella"
    assert not (source / "__init__.py").exists()
