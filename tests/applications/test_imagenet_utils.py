"""The ImageNet conventions: preprocessing against numpy, and decoding predictions with a
class index fetched from a local server (checked against its hash, cached once)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from lamella.apps import imagenet_utils, inception_v3, xception
from lamella.apps.imagenet_utils import decode_predictions, preprocess_input

RGB = np.random.default_rng(0).uniform(0, 255, (2, 5, 6, 3)).astype(np.float32)  # 'tf' layout


def test_preprocess_input_makes_bgr_and_subtracts_the_mean_pixel(ordering):
    images = RGB if ordering == "tf" else RGB.transpose(0, 3, 1, 2)
    kept = images.copy()
    out = preprocess_input(images)  # 'default': the configured ordering
    expected = np.empty_like(RGB)
    for bgr, (rgb, mean) in enumerate(zip((2, 1, 0), (103.939, 116.779, 123.68), strict=True)):
        expected[..., bgr] = RGB[..., rgb] - np.float32(mean)
    if ordering == "th":
        expected = expected.transpose(0, 3, 1, 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_array_equal(images, kept)  # Keras 1.2.2 changed the caller's array
    np.testing.assert_allclose(preprocess_input(images[0], ordering), expected[0], rtol=1e-6)


def test_preprocess_input_takes_integers_and_an_explicit_ordering():
    pixels = np.array([[[[10, 20, 30]]]], dtype=np.uint8)  # one 1x1 'tf' image
    out = preprocess_input(pixels, dim_ordering="tf")
    np.testing.assert_allclose(out, [[[[30 - 103.939, 20 - 116.779, 10 - 123.68]]]], rtol=1e-6)
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((RGB, "nhwc"), r"dim_ordering must be 'th', 'tf' or 'default', got 'nhwc'"),
        ((RGB, "th"), r"expected 3 channels on axis -3 \(dim_ordering 'th'\), got shape"),
        ((RGB[0, 0], "tf"), r"x must be a batch of images \(4D\) or one image \(3D\)"),
    ],
)
def test_preprocess_input_refuses_what_it_cannot_read(args, message):
    with pytest.raises(ValueError, match=message):
        preprocess_input(*args)


def test_inception_and_xception_scale_to_minus_one_one():
    assert xception.preprocess_input is inception_v3.preprocess_input
    kept = RGB.copy()
    np.testing.assert_allclose(inception_v3.preprocess_input(RGB), RGB / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(RGB, kept)


def _class_index():
    return {str(i): [f"n{i:08d}", f"class {i}"] for i in range(1000)}


@pytest.fixture
def published_index(server, cache, monkeypatch):
    """Keras's class index file, served locally; the module forgets any index it read."""
    data = json.dumps(_class_index()).encode()
    server.files["/imagenet_class_index.json"] = data
    origin = server.url + "/imagenet_class_index.json"
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", origin)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_MD5", hashlib.md5(data).hexdigest())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    return data


def test_decode_predictions_names_the_best_classes_in_order(server, cache, published_index):
    preds = np.random.default_rng(1).random((2, 1000)).astype(np.float32)
    decoded = decode_predictions(preds, top=3)
    for row, guesses in zip(preds, decoded, strict=True):
        best = np.argsort(row)[::-1][:3]
        assert guesses == [(f"n{i:08d}", f"class {i}", row[i]) for i in best]
    assert (cache / "imagenet_class_index.json").read_bytes() == published_index
    assert len(decode_predictions(preds)[0]) == 5
    assert server.requests == ["/imagenet_class_index.json"]  # read once, then kept


def test_a_tampered_class_index_is_refused(server, cache, published_index, monkeypatch):
    server.files["/imagenet_class_index.json"] = published_index.replace(b"class 7", b"class 8")
    with pytest.raises(ValueError, match=r"imagenet_class_index\.json downloaded from .* corrupt"):
        decode_predictions(np.zeros((1, 1000)))
    assert not cache.exists() or list(cache.iterdir()) == []
    assert imagenet_utils.CLASS_INDEX is None


def test_decode_predictions_wants_a_batch_of_1000_classes():
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\), got shape \(1000,\)"):
        decode_predictions(np.zeros(1000))
