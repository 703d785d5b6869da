"""examples/classify_image.py offline: without the weights it says how to get them and
exits cleanly (CI has no network; the example reads its picture with lamella-preprocessing)."""

from __future__ import annotations

import dataclasses
import runpy
from pathlib import Path

import numpy as np
import pytest

from lamella import backend as K
from lamella.apps import imagenet_utils, vgg16

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "classify_image.py"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused


@pytest.mark.requires("lamella-preprocessing")
def test_without_network_or_cache_it_prints_where_to_get_the_files(
    cache, tmp_path, monkeypatch, capsys
):
    from PIL import Image

    picture = tmp_path / "picture.png"
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(picture)
    key = (K.image_dim_ordering(), True)
    weights = dataclasses.replace(vgg16.WEIGHTS[key], origin=f"{NOWHERE}/{vgg16.WEIGHTS[key].name}")
    monkeypatch.setitem(vgg16.WEIGHTS, key, weights)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", f"{NOWHERE}/imagenet_class_index.json")
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)

    assert runpy.run_path(str(EXAMPLE))["main"]([str(picture)]) == 0
    out = capsys.readouterr().out
    assert f"Could not download what VGG16 needs (could not download {weights.origin}" in out
    assert f"curl -L --create-dirs -o {cache / weights.name} {weights.origin}" in out
    index = f"{NOWHERE}/imagenet_class_index.json"
    assert f"curl -L --create-dirs -o {cache / 'imagenet_class_index.json'} {index}" in out
    assert not cache.exists() or list(cache.iterdir()) == []
