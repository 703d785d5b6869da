"""Keras 1 files of convolution layers trained with Theano, which convolves (the kernel
reversed on its spatial axes) where torch and TensorFlow correlate.

Files are written here with h5py in Keras 1.2.2's layout (no ``backend`` attribute, as
Keras 1 wrote none) holding kernels as Theano trained them.  The reference is numpy's true
convolution, written as its definition (a loop over kernel offsets with the kernel index
reversed) and checked against ``scipy.signal.convolve`` where scipy is installed.
``load_model(..., theano_kernels=True)``, ``load_weights(..., theano_kernels=True)`` and
``convert_all_kernels_in_model`` must predict what the reference computes.
"""

from __future__ import annotations

import itertools

import h5py
import numpy as np
import pytest

from lamella.layers import Input
from lamella.models import Model, Sequential, load_model
from lamella.utils.layer_utils import convert_all_kernels_in_model
from lamella.utils.np_utils import convert_kernel

pytestmark = pytest.mark.requires("lamella-layers-conv")

RNG = np.random.default_rng(11)


def true_convolution(x: np.ndarray, kernel: np.ndarray, stride: int = 1, dilation: int = 1):
    """``valid`` N-d convolution of ``x (batch, in, *sizes)`` with ``kernel (out, in, *k)``:
    ``y[b, o, p] = sum over c, j of x[b, c, p*stride + j*dilation] * kernel[o, c, k-1-j]``."""
    taps = kernel.shape[2:]
    spans = [(k - 1) * dilation + 1 for k in taps]
    sizes = [n - span + 1 for n, span in zip(x.shape[2:], spans, strict=True)]
    out = np.zeros((x.shape[0], kernel.shape[0], *sizes))
    for offsets in itertools.product(*(range(k) for k in taps)):
        starts = [j * dilation for j in offsets]
        window = x[(..., *(slice(a, a + n) for a, n in zip(starts, sizes, strict=True)))]
        tap = kernel[(..., *(k - 1 - j for j, k in zip(offsets, taps, strict=True)))]
        out += np.einsum("bc...,oc->bo...", window, tap)
    return out[(..., *(slice(None, None, stride),) * len(taps))]


def true_transposed_convolution(x: np.ndarray, kernel: np.ndarray, stride: int):
    """The transpose of :func:`true_convolution` (Theano's deconvolution, ``valid``):
    ``x (batch, stack, h, w)`` and Keras 1's Deconvolution2D kernel ``(filters, stack, r,
    c)`` give ``y[b, f, p*stride + j] += x[b, s, p] * kernel[f, s, r-1-j]``."""
    filters, _, rows, cols = kernel.shape
    h, w = x.shape[2:]
    out = np.zeros((x.shape[0], filters, (h - 1) * stride + rows, (w - 1) * stride + cols))
    for i, j in itertools.product(range(rows), range(cols)):
        tap = kernel[:, :, rows - 1 - i, cols - 1 - j]
        out[:, :, i : i + (h - 1) * stride + 1 : stride, j : j + (w - 1) * stride + 1 : stride] += (
            np.einsum("bshw,fs->bfhw", x, tap)
        )
    return out


def test_the_reference_is_scipys_convolution():
    signal = pytest.importorskip("scipy.signal")
    x = RNG.normal(size=(2, 3, 7, 6))
    kernel = RNG.normal(size=(4, 3, 3, 2))
    expected = np.array(
        [
            [sum(signal.convolve(x[b, c], kernel[o, c], mode="valid") for c in range(3))
             for o in range(4)]
            for b in range(2)
        ]
    )  # fmt: skip
    np.testing.assert_allclose(true_convolution(x, kernel), expected, rtol=1e-10, atol=1e-12)


def test_the_transposed_reference_is_the_adjoint_of_the_convolution():
    """``<conv(u), y> == <u, conv_transposed(y)>``, the definition of the transpose, with
    the forward kernel reading ``filters`` as its input and ``stack`` as its output."""
    kernel = RNG.normal(size=(3, 2, 3, 3))  # (filters, stack, r, c)
    y = RNG.normal(size=(2, 2, 7, 6))
    u = RNG.normal(size=(2, 3, 15, 13))
    forward = true_convolution(u, kernel.transpose(1, 0, 2, 3), stride=2)
    assert forward.shape == y.shape
    np.testing.assert_allclose(
        np.sum(forward * y), np.sum(u * true_transposed_convolution(y, kernel, 2)), rtol=1e-10
    )


def th_kernel(layer_kind: str, kernel: np.ndarray) -> np.ndarray:
    """A Keras 1 kernel as ``(out, in, *k)``."""
    if layer_kind == "1d":  # (L, 1, in, out)
        return kernel[:, 0].transpose(2, 1, 0)
    if layer_kind == "tf":  # (*k, in, out)
        n = kernel.ndim
        return kernel.transpose(n - 1, n - 2, *range(n - 2))
    return kernel


def channels_first(x: np.ndarray, last: bool) -> np.ndarray:
    return np.moveaxis(x, -1, 1) if last else x


def channels_back(y: np.ndarray, last: bool) -> np.ndarray:
    return np.moveaxis(y, 1, -1) if last else y


def conv_case(build, input_shape, kind, stride=1, dilation=1):
    """A layer and the reference of a model made of it alone."""
    last = kind in ("1d", "tf")

    def reference(x, weights):
        kernel, bias = weights
        y = true_convolution(channels_first(x, last), th_kernel(kind, kernel), stride, dilation)
        y += bias.reshape(1, -1, *(1,) * (y.ndim - 2))
        return channels_back(y, last)

    return build, input_shape, reference


def deconv_reference(x, weights):
    kernel, bias = weights
    return true_transposed_convolution(x, kernel, 2) + bias.reshape(1, -1, 1, 1)


def _layers():
    from lamella import layers

    return layers


CASES = {
    "convolution2d-th": conv_case(
        lambda L: L.Convolution2D(3, 3, 2, dim_ordering="th", input_shape=(2, 7, 6)),
        (2, 7, 6), "th"),
    "convolution2d-tf-subsample": conv_case(
        lambda L: L.Convolution2D(3, 3, 3, subsample=(2, 2), dim_ordering="tf",
                                  input_shape=(8, 9, 2)),
        (8, 9, 2), "tf", stride=2),
    "atrous2d-th": conv_case(
        lambda L: L.AtrousConvolution2D(2, 3, 3, atrous_rate=(2, 2), dim_ordering="th",
                                        input_shape=(2, 9, 9)),
        (2, 9, 9), "th", dilation=2),
    "convolution1d": conv_case(
        lambda L: L.Convolution1D(3, 3, input_shape=(9, 2)), (9, 2), "1d"),
    "atrous1d": conv_case(
        lambda L: L.AtrousConvolution1D(3, 3, atrous_rate=2, input_shape=(11, 2)),
        (11, 2), "1d", dilation=2),
    "convolution3d-th": conv_case(
        lambda L: L.Convolution3D(2, 2, 3, 2, dim_ordering="th", input_shape=(2, 4, 5, 4)),
        (2, 4, 5, 4), "th"),
    "convolution3d-tf": conv_case(
        lambda L: L.Convolution3D(2, 3, 2, 2, dim_ordering="tf", input_shape=(5, 4, 4, 2)),
        (5, 4, 4, 2), "tf"),
    "deconvolution2d-th": (
        lambda L: L.Deconvolution2D(3, 3, 3, output_shape=(None, 3, 15, 13), subsample=(2, 2),
                                    dim_ordering="th", input_shape=(2, 7, 6)),
        (2, 7, 6), deconv_reference),
}  # fmt: skip


def keras1_file(path, model, arrays, backend=None) -> None:
    """Keras 1.2.2's save_model on Theano: names without ``:0``, no ``backend`` attribute
    (unless ``backend`` is given), ``arrays`` as the layers' weights."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        if backend is not None:
            f.attrs["backend"] = backend.encode()
        f.attrs["model_config"] = model.to_json().encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        for layer in model.layers:
            g = group.create_group(layer.name)
            names = [w._keras_name for w in layer.weights]
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, array in zip(names, arrays.get(layer.name, []), strict=True):
                g.create_dataset(name, data=array)


def theano_trained(case: str):
    """A one-layer model, a file holding Theano-trained weights for it, and its input."""
    build, input_shape, reference = CASES[case]
    model = Sequential([build(_layers())])
    weights = [RNG.normal(size=w.shape).astype("float32") for w in model.layers[0].weights]
    x = RNG.normal(size=(2, *input_shape)).astype("float32")
    return model, weights, x, reference(x.astype(np.float64), weights)


@pytest.mark.parametrize("case", sorted(CASES))
def test_load_model_with_theano_kernels_computes_the_true_convolution(tmp_path, case):
    model, weights, x, expected = theano_trained(case)
    path = tmp_path / "theano.h5"
    keras1_file(path, model, {model.layers[0].name: weights})

    flipped = load_model(str(path), compile=False, theano_kernels=True)
    np.testing.assert_allclose(flipped.predict(x), expected, rtol=1e-4, atol=1e-4)
    as_is = load_model(str(path), compile=False)
    assert np.abs(as_is.predict(x) - expected).max() > 0.1  # torch correlates

    convert_all_kernels_in_model(as_is)  # Keras 1's remedy, after loading
    np.testing.assert_allclose(as_is.predict(x), expected, rtol=1e-4, atol=1e-4)
    convert_all_kernels_in_model(as_is)  # its own inverse
    for restored, saved in zip(as_is.layers[0].get_weights(), weights, strict=True):
        np.testing.assert_array_equal(restored, saved)

    model.load_weights(str(path), theano_kernels=True)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-4)


def test_a_file_marked_theano_is_flipped_once_with_or_without_the_flag(tmp_path):
    model, weights, x, expected = theano_trained("convolution2d-th")
    path = tmp_path / "marked.h5"
    keras1_file(path, model, {model.layers[0].name: weights}, backend="theano")
    for flag in (False, True):
        loaded = load_model(str(path), compile=False, theano_kernels=flag)
        np.testing.assert_allclose(loaded.predict(x), expected, rtol=1e-4, atol=1e-4)


def test_by_name_flips_only_the_layers_the_file_holds(tmp_path):
    from lamella.layers import Convolution2D, Flatten

    model, weights, _, _ = theano_trained("convolution2d-th")
    path = tmp_path / "one.h5"
    keras1_file(path, model, {model.layers[0].name: weights})
    bigger = Sequential(
        [
            Convolution2D(
                3, 3, 2, dim_ordering="th", input_shape=(2, 7, 6), name=model.layers[0].name
            ),
            Convolution2D(2, 2, 2, dim_ordering="th", name="untouched"),
            Flatten(),
        ]
    )
    before = bigger.layers[1].get_weights()
    bigger.load_weights(str(path), by_name=True, theano_kernels=True)
    np.testing.assert_array_equal(
        bigger.layers[0].get_weights()[0], convert_kernel(weights[0], "th")
    )
    for kept, old in zip(bigger.layers[1].get_weights(), before, strict=True):
        np.testing.assert_array_equal(kept, old)


@pytest.mark.parametrize(
    "build",
    [
        lambda L: L.LocallyConnected2D(2, 3, 3, dim_ordering="th", input_shape=(2, 6, 6)),
        lambda L: L.LocallyConnected1D(2, 3, input_shape=(7, 2)),
        lambda L: L.SeparableConvolution2D(2, 3, 3, dim_ordering="tf", input_shape=(6, 6, 2)),
    ],
    ids=["locally-connected-2d", "locally-connected-1d", "separable"],
)
def test_layers_theano_did_not_convolve_keep_their_kernels(tmp_path, build):
    """LocallyConnected kernels have no spatial axes, and Theano had no separable
    convolution, so no Theano file holds one: the flag leaves them as they are."""
    model = Sequential([build(_layers())])
    weights = [RNG.normal(size=w.shape).astype("float32") for w in model.layers[0].weights]
    path = tmp_path / "kept.h5"
    keras1_file(path, model, {model.layers[0].name: weights})
    loaded = load_model(str(path), compile=False, theano_kernels=True)
    for got, saved in zip(loaded.layers[0].get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, saved)
    convert_all_kernels_in_model(loaded)
    for got, saved in zip(loaded.layers[0].get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, saved)


def test_wrapped_nested_and_shared_convolutions_are_each_flipped_once(tmp_path):
    """Keras 1.2.2 converted ``model.layers`` only; lamella walks nested models and
    wrappers, and a layer reached twice is flipped once."""
    from lamella.layers import Convolution2D, TimeDistributed

    shared = Convolution2D(2, 3, 3, dim_ordering="th", name="shared")
    inner = Sequential([Convolution2D(2, 2, 2, dim_ordering="th", input_shape=(2, 6, 6)), shared])
    frames = Input(shape=(3, 2, 5, 5))
    wrapped = TimeDistributed(Convolution2D(2, 3, 3, dim_ordering="th"))
    images = Input(shape=(2, 6, 6))
    model = Model(input=[images, frames], output=[inner(images), wrapped(frames)])
    kernels = [inner.layers[0].get_weights()[0], shared.get_weights()[0], wrapped.get_weights()[0]]
    convert_all_kernels_in_model(model)
    after = [inner.layers[0].get_weights()[0], shared.get_weights()[0], wrapped.get_weights()[0]]
    for old, new in zip(kernels, after, strict=True):
        np.testing.assert_array_equal(new, old[:, :, ::-1, ::-1])

    path = tmp_path / "td.h5"
    td = Sequential(
        [TimeDistributed(Convolution2D(2, 3, 3, dim_ordering="th"), input_shape=(3, 2, 5, 5))]
    )
    kernel, bias = (RNG.normal(size=w.shape).astype("float32") for w in td.layers[0].weights)
    keras1_file(path, td, {td.layers[0].name: [kernel, bias]})
    td.load_weights(str(path), theano_kernels=True)
    np.testing.assert_array_equal(td.layers[0].get_weights()[0], kernel[:, :, ::-1, ::-1])
    np.testing.assert_array_equal(td.layers[0].get_weights()[1], bias)


@pytest.mark.requires("lamella-layers-recurrent")
def test_convlstm2d_kernels_are_flipped_and_its_biases_kept(tmp_path):
    """Keras 1's ConvLSTM2D convolves its input and its state (``W_*`` and ``U_*``):
    Theano flipped all eight kernels."""
    from lamella.layers import ConvLSTM2D

    model = Sequential([ConvLSTM2D(2, 3, 3, dim_ordering="tf", input_shape=(3, 5, 5, 1))])
    layer = model.layers[0]
    weights = [RNG.normal(size=w.shape).astype("float32") for w in layer.weights]
    path = tmp_path / "convlstm.h5"
    keras1_file(path, model, {layer.name: weights})
    loaded = load_model(str(path), compile=False, theano_kernels=True).layers[0]
    for weight, got, saved in zip(layer.weights, loaded.get_weights(), weights, strict=True):
        name = weight._keras_name.rsplit("_", 2)[-2]
        want = saved[::-1, ::-1] if name in ("W", "U") else saved
        np.testing.assert_array_equal(got, want, err_msg=weight._keras_name)
