"""``weights='imagenet'``: Keras's file is fetched (from a local server standing in for
Keras's release page), checked against its hash, cached, and loaded by layer order.

The file is written here with h5py in the layout of Keras 1.2.2's ``save_weights`` (and
of the published files): a root ``layer_names`` list, one group per layer, its
``weight_names`` and one dataset per weight.  VGG16 without its top keeps the file small
(14.7 million numbers).  The 'th' files hold kernels trained with Theano, which
convolves: the model must compute a true convolution with them, which the first layer's
output is checked against in numpy.
"""

from __future__ import annotations

import dataclasses
import hashlib

import h5py
import numpy as np
import pytest

from lamella import backend as K
from lamella.apps import building, vgg16
from lamella.apps.vgg16 import VGG16
from lamella.engine.training import Model

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # filters, convolutions
SIDE = 48  # the smallest input VGG16 takes: the weights do not depend on it


def vgg16_notop_layers(ordering, rng):
    """VGG16's layers without the top, in Keras's order, each with its [W, b] or []."""
    layers, channels = [("input_1", [])], 3
    for block, (filters, convs) in enumerate(BLOCKS, 1):
        for conv in range(1, convs + 1):
            shape = (filters, channels, 3, 3) if ordering == "th" else (3, 3, channels, filters)
            kernel = rng.standard_normal(shape, dtype=np.float32) * 0.05
            layers.append((f"block{block}_conv{conv}", [kernel, rng.random(filters, np.float32)]))
            channels = filters
        layers.append((f"block{block}_pool", []))
    return layers


def write_keras1_weights(path, layers, tensorflow_names):
    """Keras 1.2.2's ``save_weights``; the published 'tf' files name their weights as
    TensorFlow did, ``block1_conv1_W_1:0``, the 'th' ones ``block1_conv1_W``."""
    suffix = "_1:0" if tensorflow_names else ""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name, _ in layers]
        for name, arrays in layers:
            group = f.create_group(name)
            names = [f"{name}_{weight}{suffix}" for weight in ("W", "b")][: len(arrays)]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for weight, array in zip(names, arrays, strict=True):
                group.create_dataset(weight, data=array)


def true_convolution_relu(image, kernel, bias, ordering):
    """``relu(conv(image, kernel) + bias)`` with 'same' padding, in numpy: a Theano ('th')
    kernel is convolved (flipped), a TensorFlow one correlated."""
    if ordering == "th":  # (out, in, r, c) -> (r, c, in, out), flipped as a convolution
        kernel = kernel.transpose(2, 3, 1, 0)[::-1, ::-1]
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(0, 1))
    out = np.einsum("yxirc,rcio->yxo", windows, kernel) + bias
    return np.maximum(out, 0)


@pytest.fixture
def published_vgg16(server, cache, monkeypatch, tmp_path, ordering):
    """VGG16's no-top file for the current ordering, served locally with its md5."""
    layers = vgg16_notop_layers(ordering, np.random.default_rng(0))
    listed = vgg16.WEIGHTS[ordering, False]  # Keras's file name, and its kernels' kind
    path = tmp_path / listed.name
    write_keras1_weights(path, layers, tensorflow_names=ordering == "tf")
    data = path.read_bytes()
    server.files[f"/{listed.name}"] = data
    monkeypatch.setitem(
        vgg16.WEIGHTS,
        (ordering, False),
        dataclasses.replace(
            listed, origin=f"{server.url}/{listed.name}", md5=hashlib.md5(data).hexdigest()
        ),
    )
    return dict(layers), listed


def test_imagenet_weights_are_fetched_checked_cached_and_loaded(
    server, cache, published_vgg16, ordering
):
    arrays, listed = published_vgg16
    assert listed.th_kernels == (ordering == "th")  # the 'th' files hold Theano kernels
    shape = (3, SIDE, SIDE) if ordering == "th" else (SIDE, SIDE, 3)
    model = VGG16(include_top=False, input_shape=shape)
    assert server.requests == [f"/{listed.name}"]
    assert (cache / listed.name).is_file()  # $LAMELLA_HOME/models, under Keras's name

    for layer in model.layers:
        if not arrays[layer.name]:
            continue
        kernel, bias = arrays[layer.name]
        if ordering == "th":  # flipped for lamella's correlation
            kernel = kernel[:, :, ::-1, ::-1]
        got_kernel, got_bias = layer.get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)

    image = np.random.default_rng(1).uniform(-1, 1, (SIDE, SIDE, 3)).astype(np.float32)
    first = Model(model.input, model.get_layer("block1_conv1").output)
    batch = image.transpose(2, 0, 1)[None] if ordering == "th" else image[None]
    out = first.predict(batch)[0]
    out = out.transpose(1, 2, 0) if ordering == "th" else out
    expected = true_convolution_relu(image, *arrays["block1_conv1"], ordering)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)

    VGG16(include_top=False, input_shape=shape)  # the cached file, checked, not fetched
    assert len(server.requests) == 1


def test_a_tampered_weights_file_is_refused_and_not_kept(server, cache, monkeypatch):
    listed = vgg16.WEIGHTS["tf", False]
    server.files[f"/{listed.name}"] = b"\x89HDF\r\n\x1a\n not the published weights"
    origin = f"{server.url}/{listed.name}"
    monkeypatch.setitem(vgg16.WEIGHTS, ("tf", False), dataclasses.replace(listed, origin=origin))
    before = K.image_dim_ordering()
    K.set_image_dim_ordering("tf")
    try:
        with pytest.raises(ValueError, match=rf"{listed.name} downloaded from .* corrupt: its md5"):
            VGG16(include_top=False, input_shape=(SIDE, SIDE, 3))
    finally:
        K.set_image_dim_ordering(before)
    assert server.requests == [f"/{listed.name}"] and list(cache.iterdir()) == []


def test_the_published_files_are_keras_1_2_2s():
    """Names, addresses and hashes as Keras 1.2.2 lists them (and later Keras for the
    'tf' VGG and Xception files, the same files)."""
    from lamella.apps import inception_v3, resnet50, xception

    release = building.RELEASES
    assert release == "https://github.com/fchollet/deep-learning-models/releases/download/"
    assert vgg16.WEIGHTS["th", True].origin == (
        release + "v0.1/vgg16_weights_th_dim_ordering_th_kernels.h5"
    )
    assert vgg16.WEIGHTS["tf", False].md5 == "6d6bbae143d832006294945121d1f1fc"
    assert resnet50.WEIGHTS["th", False].md5 == "f64f049c92468c9affcd44b0976cdafe"
    assert inception_v3.WEIGHTS["tf", True].md5 == "fe114b3ff2ea4bf891e9353d1bbfb32f"
    assert xception.WEIGHTS[False].origin.endswith(
        "v0.4/xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    kinds = {f.name: f.th_kernels for table in (vgg16.WEIGHTS, resnet50.WEIGHTS,
             inception_v3.WEIGHTS) for f in table.values()}  # fmt: skip
    assert all(th == ("_th_kernels" in name) for name, th in kinds.items())
    assert sum(kinds.values()) == 6
