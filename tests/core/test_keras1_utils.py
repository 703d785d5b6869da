"""Keras 1's helper functions in np_utils, io_utils, layer_utils, optimizers, regularizers
and layers.recurrent, against numpy (or torch) computing the same thing."""

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lamella import regularizers
from lamella.backend import learning_phase_scope
from lamella.layers import BatchNormalization, Dense, Input
from lamella.layers.recurrent import time_distributed_dense
from lamella.models import Model, Sequential
from lamella.optimizers import clip_norm
from lamella.utils import io_utils, np_utils
from lamella.utils.layer_utils import (
    convert_all_kernels_in_model,
    count_total_params,
    print_summary,
)

RNG = np.random.default_rng(7)

# -- np_utils ------------------------------------------------------------------------


def test_normalize_divides_by_the_norm_and_leaves_zero_rows():
    a = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_allclose(
        np_utils.normalize(a), [[0.6, 0.8], [0.0, 0.0], [2**-0.5, -(2**-0.5)]]
    )
    np.testing.assert_allclose(np_utils.normalize(a, axis=0, order=1), a / np.abs(a).sum(0))


def test_binary_logloss_is_the_mean_crossentropy_with_clipping():
    p = np.array([0.9, 0.2, 1.0, 0.5])
    y = np.array([1, 0, 0, 1])
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    expected = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    np.testing.assert_allclose(np_utils.binary_logloss(p, y), expected)
    assert np.isfinite(np_utils.binary_logloss(p, y))  # p = 1 with y = 0 is clipped, not inf


def test_multiclass_logloss_reads_classes_from_one():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(
        np_utils.multiclass_logloss(p, [1, 3]), -(np.log(0.7) + np.log(0.8)) / 2
    )
    with pytest.raises(ValueError, match="numbered 1 to 3"):
        np_utils.multiclass_logloss(p, [0, 2])


def test_accuracy_is_the_fraction_of_equal_entries():
    assert np_utils.accuracy([1, 0, 2, 2], [1, 1, 2, 0]) == 0.5
    with pytest.raises(ValueError, match="p has 2 entries but y has 3"):
        np_utils.accuracy([1, 0], [1, 0, 1])


@pytest.mark.parametrize("border_mode", ["valid", "full", "same"])
@pytest.mark.parametrize(("size", "stride", "dilation"), [(3, 1, 1), (4, 2, 1), (3, 3, 2)])
def test_conv_output_length_matches_torch(border_mode, size, stride, dilation):
    span = size + (size - 1) * (dilation - 1)
    x = torch.zeros(1, 1, 17)
    w = torch.zeros(1, 1, size)
    if border_mode == "same":
        expected = -(-17 // stride)  # Keras's 'same': ceil(length / stride)
    else:
        padding = 0 if border_mode == "valid" else span - 1
        expected = F.conv1d(x, w, stride=stride, padding=padding, dilation=dilation).shape[-1]
    assert np_utils.conv_output_length(17, size, border_mode, stride, dilation) == expected
    assert np_utils.conv_output_length(None, size, border_mode, stride) is None


@pytest.mark.parametrize("border_mode", ["valid", "full"])
def test_conv_input_length_inverts_conv_output_length(border_mode):
    for length in range(5, 12):
        back = np_utils.conv_input_length(length, 3, border_mode, 1)
        assert np_utils.conv_output_length(back, 3, border_mode, 1) == length
    assert np_utils.conv_input_length(7, 3, "same", 2) == (7 - 1) * 2 - 2 * 1 + 3
    with pytest.raises(ValueError, match="border_mode must be one of same, valid, full"):
        np_utils.conv_output_length(5, 3, "causal", 1)


def test_convert_kernel_flips_the_spatial_axes_only():
    th = RNG.normal(size=(4, 3, 2, 5))
    np.testing.assert_array_equal(np_utils.convert_kernel(th, "th"), th[:, :, ::-1, ::-1])
    tf = RNG.normal(size=(2, 5, 2, 3, 4))
    np.testing.assert_array_equal(np_utils.convert_kernel(tf, "tf"), tf[::-1, ::-1, ::-1])
    np.testing.assert_array_equal(
        np_utils.convert_kernel(np_utils.convert_kernel(th, "th"), "th"), th
    )
    with pytest.raises(ValueError, match="4D or 5D kernel"):
        np_utils.convert_kernel(np.zeros((3, 3)), "th")


# -- io_utils ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "<U3"])
def test_save_and_load_array_round_trip_under_the_exact_name(tmp_path, dtype):
    array = RNG.normal(size=(3, 4, 2)).astype(dtype)
    path = tmp_path / "features.bc"
    io_utils.save_array(array, path)
    assert sorted(os.listdir(tmp_path)) == ["features.bc"]  # no ".npy" added, no temp file left
    loaded = io_utils.load_array(os.fspath(path))
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_save_array_refuses_objects_and_keeps_the_old_file_when_writing_fails(
    tmp_path, monkeypatch
):
    path = tmp_path / "a.npy"
    io_utils.save_array(np.arange(3), path)
    with pytest.raises(TypeError, match="without pickling"):
        io_utils.save_array(np.array([{"a": 1}], dtype=object), path)

    def broken_save(f, data, allow_pickle):
        f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(io_utils.np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        io_utils.save_array(np.arange(10), path)
    monkeypatch.undo()
    np.testing.assert_array_equal(io_utils.load_array(path), np.arange(3))
    assert os.listdir(tmp_path) == ["a.npy"]


def test_load_array_never_unpickles(tmp_path):
    path = tmp_path / "pickled.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not an array written by save_array"):
        io_utils.load_array(path)


@pytest.mark.parametrize(("answers", "result"), [(["y"], True), (["maybe", "n"], False)])
def test_ask_to_proceed_with_overwrite_asks_until_y_or_n(monkeypatch, capsys, answers, result):
    replies = iter(answers)
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or next(replies))
    assert io_utils.ask_to_proceed_with_overwrite("m.h5") is result
    assert prompts[0] == "[WARNING] m.h5 already exists - overwrite? [y/n]"
    assert len(prompts) == len(answers)


# -- layer_utils ---------------------------------------------------------------------


def test_count_total_params_splits_trainable_and_counts_shared_layers_once():
    model = Sequential([Dense(4, input_dim=3), BatchNormalization()])
    # Dense 3*4+4; BatchNormalization gamma, beta (trainable), running mean and std (not).
    assert count_total_params(model.layers) == (3 * 4 + 4 + 4 + 4, 4 + 4)
    assert count_total_params([model]) == count_total_params(model.layers)
    x = Input(shape=(3,))
    shared = Dense(3)
    twice = Model(x, shared(shared(x)))
    assert count_total_params(twice.layers) == (3 * 3 + 3, 0)
    seen = set(model.layers)
    assert count_total_params(model.layers, seen) == (0, 0)


def test_print_summary_takes_keras_list_of_layers_and_relevant_nodes(capsys):
    model = Sequential([Dense(4, input_dim=3), BatchNormalization()])
    model.summary()
    from_model = capsys.readouterr().out
    print_summary(model.layers)
    assert capsys.readouterr().out == from_model
    assert "Trainable params: 24\nNon-trainable params: 8" in from_model
    print_summary(
        model.layers, relevant_nodes=["dense_1_ib-0"], line_length=80, positions=[30, 45, 55, 80]
    )
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) == 80 for line in lines[:-4])
    assert lines[3].endswith("dense_input_1[0][0]" + " " * 6)  # the call that was asked for
    assert lines[5].startswith("batchnormalization_1") and lines[5].endswith(" " * 25)


@pytest.mark.requires("lamella-layers-conv")
def test_convert_all_kernels_in_model_turns_convolution_into_correlation():
    from lamella.layers import Convolution2D

    layer = Convolution2D(2, 3, 3, input_shape=(1, 6, 6), dim_ordering="th", bias=False)
    model = Sequential([layer])
    x = RNG.normal(size=(2, 1, 6, 6)).astype("float32")
    kernel = layer.get_weights()[0]
    convert_all_kernels_in_model(model)
    flipped = torch.from_numpy(kernel[:, :, ::-1, ::-1].copy())
    np.testing.assert_allclose(
        model.predict(x), F.conv2d(torch.from_numpy(x), flipped).numpy(), rtol=1e-5, atol=1e-5
    )
    convert_all_kernels_in_model(model)
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


# -- optimizers.clip_norm ------------------------------------------------------------


def test_clip_norm_scales_by_c_over_n_from_c_on():
    g = torch.tensor([3.0, -4.0])
    np.testing.assert_allclose(clip_norm(g, 1.0, torch.tensor(5.0)).numpy(), [0.6, -0.8])
    np.testing.assert_allclose(clip_norm(g, 5.0, 5.0).numpy(), [3.0, -4.0])  # n == c: c/n = 1
    np.testing.assert_allclose(clip_norm(g, 10.0, 5.0).numpy(), [3.0, -4.0])
    np.testing.assert_allclose(clip_norm(g, 0.0, 5.0).numpy(), [3.0, -4.0])  # c <= 0: off


# -- regularizers.EigenvalueRegularizer ----------------------------------------------


def _keras_eigenvalue_penalty(w, k):
    """Keras 1's recipe in float64: Rayleigh quotient of W^T W at (W^T W)^9 · 1."""
    c = w.T @ w
    v = c @ np.ones((c.shape[0], 1))
    for _ in range(8):
        v = c @ v
    return k * np.sqrt(((c @ v).T @ v / (v.T @ v)).item())


def test_eigenvalue_regularizer_is_keras_power_method_and_the_spectral_norm():
    w = RNG.normal(size=(6, 4))
    penalty = regularizers.EigenvalueRegularizer(0.3)(torch.from_numpy(w))
    np.testing.assert_allclose(penalty.item(), _keras_eigenvalue_penalty(w, 0.3), rtol=1e-10)
    spectral = np.sqrt(np.max(np.linalg.eigvals(w.T @ w).real))
    np.testing.assert_allclose(penalty.item(), 0.3 * spectral, rtol=1e-3)


def test_eigenvalue_regularizer_survives_weights_that_overflow_keras_recipe():
    w = torch.full((5, 5), 1e4, dtype=torch.float32) + torch.eye(5)
    penalty = regularizers.EigenvalueRegularizer(1.0)(w)
    expected = np.linalg.svd(w.double().numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(penalty.item(), expected, rtol=1e-4)


def test_eigenvalue_regularizer_gradient_matches_finite_differences():
    w = torch.from_numpy(RNG.normal(size=(5, 3))).requires_grad_(True)
    assert torch.autograd.gradcheck(regularizers.EigenvalueRegularizer(0.5), (w,))
    zero = torch.zeros(4, 3, requires_grad=True)
    regularizers.EigenvalueRegularizer(0.5)(zero).backward()
    assert torch.isfinite(zero.grad).all()


def test_eigenvalue_regularizer_on_a_dense_layer_and_in_its_config():
    layer = Dense(3, input_dim=4, W_regularizer=regularizers.EigenvalueRegularizer(0.2))
    Sequential([layer])
    (penalty,) = layer.penalties()
    w = layer.get_weights()[0].astype(np.float64)
    np.testing.assert_allclose(penalty.item(), _keras_eigenvalue_penalty(w, 0.2), rtol=1e-5)
    config = layer.get_config()["W_regularizer"]
    assert config == {"name": "EigenvalueRegularizer", "k": 0.2}
    assert regularizers.get(config).k == 0.2
    with pytest.raises(ValueError, match="only 2D weights"):
        regularizers.EigenvalueRegularizer(1.0)(torch.ones(2, 2, 2))


# -- layers.recurrent.time_distributed_dense -----------------------------------------


def test_time_distributed_dense_is_a_dense_map_per_timestep():
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    w = RNG.normal(size=(3, 4)).astype("float32")
    b = RNG.normal(size=(4,)).astype("float32")
    y = time_distributed_dense(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b))
    np.testing.assert_allclose(y.numpy(), x @ w + b, rtol=1e-5, atol=1e-6)
    no_bias = time_distributed_dense(torch.from_numpy(x), torch.from_numpy(w), dropout=0.5)
    np.testing.assert_allclose(no_bias.numpy(), x @ w, rtol=1e-5, atol=1e-6)  # test phase
    with pytest.raises(ValueError, match="x must be a 3D tensor"):
        time_distributed_dense(torch.ones(2, 3), torch.from_numpy(w))


def test_time_distributed_dense_drops_the_same_features_at_every_timestep():
    torch.manual_seed(0)
    x = torch.ones(64, 4, 10)
    w = torch.eye(10)
    with learning_phase_scope(1):
        y = time_distributed_dense(x, w, dropout=0.25)
    assert torch.equal(y, y[:, :1].expand_as(y))  # one mask per sample, shared over time
    np.testing.assert_allclose(torch.unique(y).numpy(), [0.0, 1 / 0.75], rtol=1e-6)
    assert 0.15 < (y == 0).float().mean().item() < 0.35
