"""MusicTaggerCRNN (which needs lamella-layers-recurrent's GRU) and audio_conv_utils.

The parameter counts were worked out from Keras 1.2.2's source: the first batch
normalization runs over the 1440 padded frames (4 x 1440), a GRU of 32 units on n
inputs has 3 x (32n + 32 x 32 + 32) weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import types

import h5py
import numpy as np
import pytest

from lamella.apps import audio_conv_utils, music_tagger_crnn
from lamella.apps.audio_conv_utils import TAGS, decode_predictions, preprocess_input
from lamella.apps.music_tagger_crnn import MusicTaggerCRNN
from lamella.plugins import MissingPluginError

recurrent = pytest.mark.requires("lamella-layers-recurrent")
NAMES = ["input_1", "zeropadding2d_1", "bn_0_freq"]
for _block in (1, 2, 3, 4):
    NAMES += [f"conv{_block}", f"bn{_block}", f"elu_{_block}", f"pool{_block}"]


@recurrent
@pytest.mark.parametrize("include_top", [True, False], ids=["top", "notop"])
def test_keras_1s_layers_and_parameters(include_top, ordering):
    model = MusicTaggerCRNN(weights=None, include_top=include_top)
    assert model.count_params() == (400_562 if include_top else 398_912)
    permute = ["permute_1"] if ordering == "th" else []
    top = ["output"] if include_top else []
    assert [layer.name for layer in model.layers] == [*NAMES, *permute, "reshape_1", "gru1",
                                                      "gru2", *top]  # fmt: skip
    assert model.input_shape == ((None, 1, 96, 1366) if ordering == "th" else (None, 96, 1366, 1))
    assert model.output_shape == (None, 50 if include_top else 32)
    assert model.get_layer("gru1").inner_activation.__name__ == "hard_sigmoid"  # Keras 1's
    melgram = np.random.default_rng(0).random((1, *model.input_shape[1:]), dtype=np.float32)
    out = model.predict(melgram)
    assert out.shape == (1, 50 if include_top else 32) and np.isfinite(out).all()


def _keras1_layer_arrays(ordering, rng):
    """The weighted layers of the published file and their arrays, in Keras 1's order."""
    layers = {"bn_0_freq": [rng.random(1440, np.float32) for _ in range(4)]}
    channels = 1
    for block, filters in enumerate((64, 128, 128, 128), 1):
        shape = (filters, channels, 3, 3) if ordering == "th" else (3, 3, channels, filters)
        layers[f"conv{block}"] = [rng.standard_normal(shape, np.float32), rng.random(filters)]
        layers[f"bn{block}"] = [rng.random(filters, np.float32) for _ in range(4)]
        channels = filters
    for name, inputs in (("gru1", 128), ("gru2", 32)):
        layers[name] = [rng.random(shape, np.float32) for _ in range(3)
                        for shape in ((inputs, 32), (32, 32), (32,))]  # fmt: skip
    layers["output"] = [rng.random((32, 50), np.float32), rng.random(50, np.float32)]
    return {name: [np.asarray(a, np.float32) for a in arrays] for name, arrays in layers.items()}


WEIGHT_NAMES = {
    "conv": ["W", "b"],
    "bn": ["gamma", "beta", "running_mean", "running_std"],
    "gru": [f"{kind}_{gate}" for gate in "zrh" for kind in ("W", "U", "b")],
    "output": ["W", "b"],
}


@recurrent
def test_msd_weights_are_loaded_by_layer_name(server, cache, monkeypatch, tmp_path, ordering):
    """The file also names layers this model lacks; by name, they are passed over."""
    arrays = _keras1_layer_arrays(ordering, np.random.default_rng(0))
    listed = music_tagger_crnn.WEIGHTS[ordering]
    path = tmp_path / listed.name
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_7", b"elu_9", *(n.encode() for n in arrays)]
        for name in ("input_7", "elu_9"):
            f.create_group(name).attrs["weight_names"] = []
        for name, values in arrays.items():
            kind = "bn" if name.startswith("bn") else name.rstrip("0123456789_freq")
            weights = [f"{name}_{w}" for w in WEIGHT_NAMES[kind]]
            group = f.create_group(name)
            group.attrs["weight_names"] = [w.encode() for w in weights]
            for weight, value in zip(weights, values, strict=True):
                group.create_dataset(weight, data=value)
    data = path.read_bytes()
    server.files[f"/{listed.name}"] = data
    origin, md5 = f"{server.url}/{listed.name}", hashlib.md5(data).hexdigest()
    monkeypatch.setitem(
        music_tagger_crnn.WEIGHTS, ordering, dataclasses.replace(listed, origin=origin, md5=md5)
    )
    model = MusicTaggerCRNN()
    assert not listed.th_kernels and (cache / listed.name).is_file()
    for name, values in arrays.items():
        for got, expected in zip(model.get_layer(name).get_weights(), values, strict=True):
            np.testing.assert_array_equal(got, expected)  # TensorFlow kernels: no flip


@pytest.mark.requires_absent("lamella-layers-recurrent")
def test_without_lamella_layers_recurrent_it_says_what_to_install():
    with pytest.raises(MissingPluginError, match="pip install lamella-layers-recurrent"):
        MusicTaggerCRNN(weights=None)


def test_decode_predictions_names_the_likeliest_tags():
    preds = np.random.default_rng(2).random((2, 50))
    decoded = decode_predictions(preds, top_n=4)
    for row, tags in zip(preds, decoded, strict=True):
        best = np.argsort(row)[::-1][:4]
        assert tags == [(TAGS[i], row[i]) for i in best]
    with pytest.raises(ValueError, match=r"shape \(samples, 50\), got shape \(2, 49\)"):
        decode_predictions(preds[:, :49])


def test_preprocess_input_without_librosa_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "librosa", None)  # import librosa fails
    with pytest.raises(ImportError, match="pip install librosa"):
        preprocess_input("song.mp3")


@pytest.mark.parametrize("extra", [-1000, 1001], ids=["short", "long"])
def test_preprocess_input_takes_the_middle_29_seconds(monkeypatch, ordering, extra):
    """librosa's part is faked: the signal it 'reads' is trimmed to its middle 29.12 s at
    12 kHz (or zero-padded at the end), then turned into a squared mel power in dB."""
    wanted = int(29.12 * 12000)
    signal = np.arange(wanted + extra, dtype=np.float32)
    calls = {}

    def melspectrogram(y, sr, hop_length, n_fft, n_mels):
        calls["mel"] = (y, sr, hop_length, n_fft, n_mels)
        return np.full((96, 1366), 3.0)

    def power_to_db(s, ref):
        calls["db"] = (s, ref)
        return np.log10(s)

    fake = types.ModuleType("librosa")
    fake.load = lambda path, sr: (signal, sr)
    fake.feature = types.SimpleNamespace(melspectrogram=melspectrogram)
    fake.power_to_db = power_to_db
    monkeypatch.setitem(sys.modules, "librosa", fake)

    x = audio_conv_utils.preprocess_input("song.mp3")
    y, rate, hop, n_fft, n_mels = calls["mel"]
    expected = (
        np.concatenate([signal, np.zeros(-extra, np.float32)])
        if extra < 0
        else signal[extra // 2 : extra // 2 + wanted]
    )
    np.testing.assert_array_equal(y, expected)
    assert (rate, hop, n_fft, n_mels) == (12000, 256, 512, 96)
    np.testing.assert_array_equal(calls["db"][0], np.full((96, 1366), 9.0))
    assert calls["db"][1] == 1.0
    assert x.shape == ((1, 96, 1366) if ordering == "th" else (96, 1366, 1))
    np.testing.assert_allclose(x.ravel(), np.log10(9.0))
