"""Keras 2 spellings of every convolution, pooling, padding, cropping, up-sampling and
locally connected layer: the same layer as its Keras 1 spelling (config, weights, output)."""

import numpy as np
import pytest
import torch

from lamella import layers as L
from lamella.layers import Input
from lamella.models import Model

RNG = np.random.default_rng(9)
LAST = {"data_format": "channels_last"}
TF = {"dim_ordering": "tf"}


def same_layer(keras2, keras1, input_shape):
    two, one = keras2(), keras1()
    assert type(two) is type(one)
    outputs = []
    for layer in (two, one):
        x = Input(shape=input_shape)
        torch.manual_seed(0)  # the weights are drawn when the layer is built
        outputs.append(Model(x, layer(x)))
    config_two = {k: v for k, v in two.get_config().items() if k != "name"}
    config_one = {k: v for k, v in one.get_config().items() if k != "name"}
    assert config_two == config_one
    for a, b in zip(two.get_weights(), one.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    data = RNG.normal(size=(2, *input_shape)).astype("float32")
    np.testing.assert_allclose(outputs[0].predict(data), outputs[1].predict(data), rtol=1e-6)


CASES = {
    "Conv1D": (
        lambda: L.Conv1D(4, 3, strides=2, padding="same", kernel_initializer="he_uniform"),
        lambda: L.Convolution1D(4, 3, subsample_length=2, border_mode="same", init="he_uniform"),
        (9, 3),
    ),
    "Conv1D-dilated": (
        lambda: L.Conv1D(4, kernel_size=3, dilation_rate=2),
        lambda: L.AtrousConvolution1D(4, 3, atrous_rate=2),
        (9, 3),
    ),
    "Conv2D": (
        lambda: L.Conv2D(4, (3, 2), strides=(2, 1), padding="same", use_bias=False, **LAST),
        lambda: L.Convolution2D(4, 3, 2, subsample=(2, 1), border_mode="same", bias=False, **TF),
        (7, 6, 3),
    ),
    "Conv2D-int-kernel": (
        lambda: L.Conv2D(filters=4, kernel_size=3, strides=2, data_format="channels_first"),
        lambda: L.Convolution2D(4, 3, 3, subsample=(2, 2), dim_ordering="th"),
        (2, 7, 7),
    ),
    "Conv2D-dilated": (
        lambda: L.Conv2D(4, (3, 3), dilation_rate=2, **LAST),
        lambda: L.AtrousConvolution2D(4, 3, 3, atrous_rate=(2, 2), **TF),
        (9, 9, 2),
    ),
    "Conv3D": (
        lambda: L.Conv3D(2, (2, 3, 2), strides=1, kernel_regularizer="l2", **LAST),
        lambda: L.Convolution3D(2, 2, 3, 2, W_regularizer="l2", **TF),
        (4, 5, 4, 2),
    ),
    "SeparableConv2D": (
        lambda: L.SeparableConv2D(4, (3, 3), depth_multiplier=2, padding="same", **LAST),
        lambda: L.SeparableConvolution2D(4, 3, 3, depth_multiplier=2, border_mode="same", **TF),
        (6, 6, 3),
    ),
    "Conv2DTranspose": (
        lambda: L.Conv2DTranspose(3, (3, 3), strides=2, padding="same", **LAST),
        lambda: L.Deconvolution2D(
            3, 3, 3, output_shape=(None, 8, 8, 3), subsample=(2, 2), border_mode="same", **TF
        ),
        (4, 4, 2),
    ),
    "LocallyConnected1D": (
        lambda: L.LocallyConnected1D(3, 2, strides=1, kernel_initializer="lecun_uniform"),
        lambda: L.LocallyConnected1D(3, 2, subsample_length=1, init="lecun_uniform"),
        (6, 2),
    ),
    "LocallyConnected2D": (
        lambda: L.LocallyConnected2D(3, (2, 2), **LAST),
        lambda: L.LocallyConnected2D(3, 2, 2, **TF),
        (4, 4, 2),
    ),
    "MaxPooling1D": (
        lambda: L.MaxPool1D(pool_size=3, strides=2, padding="same"),
        lambda: L.MaxPooling1D(pool_length=3, stride=2, border_mode="same"),
        (9, 2),
    ),
    "AveragePooling1D": (
        lambda: L.AveragePooling1D(pool_size=2),
        lambda: L.AveragePooling1D(pool_length=2),
        (8, 2),
    ),
    "MaxPooling2D": (
        lambda: L.MaxPool2D(pool_size=2, padding="same", **LAST),
        lambda: L.MaxPooling2D(pool_size=(2, 2), border_mode="same", **TF),
        (5, 5, 2),
    ),
    "AveragePooling2D": (
        lambda: L.AvgPool2D((2, 2), strides=1, **LAST),
        lambda: L.AveragePooling2D((2, 2), strides=(1, 1), **TF),
        (4, 4, 2),
    ),
    "MaxPooling3D": (
        lambda: L.MaxPool3D(pool_size=2, **LAST),
        lambda: L.MaxPooling3D(pool_size=(2, 2, 2), **TF),
        (4, 4, 4, 1),
    ),
    "AveragePooling3D": (
        lambda: L.AvgPool3D((2, 2, 2), data_format="channels_first"),
        lambda: L.AveragePooling3D((2, 2, 2), dim_ordering="th"),
        (1, 4, 4, 4),
    ),
    "GlobalMaxPooling1D": (lambda: L.GlobalMaxPool1D(), lambda: L.GlobalMaxPooling1D(), (5, 3)),
    "GlobalAveragePooling2D": (
        lambda: L.GlobalAvgPool2D(**LAST),
        lambda: L.GlobalAveragePooling2D(**TF),
        (4, 4, 3),
    ),
    "GlobalMaxPooling3D": (
        lambda: L.GlobalMaxPool3D(**LAST),
        lambda: L.GlobalMaxPooling3D(**TF),
        (2, 3, 2, 3),
    ),
    "UpSampling1D": (lambda: L.UpSampling1D(size=3), lambda: L.UpSampling1D(length=3), (4, 2)),
    "UpSampling2D": (
        lambda: L.UpSampling2D(size=2, **LAST),
        lambda: L.UpSampling2D(size=(2, 2), **TF),
        (3, 3, 2),
    ),
    "UpSampling3D": (
        lambda: L.UpSampling3D(size=2, **LAST),
        lambda: L.UpSampling3D(size=(2, 2, 2), **TF),
        (2, 2, 2, 1),
    ),
    "ZeroPadding2D": (
        lambda: L.ZeroPadding2D(padding=(1, 2), **LAST),
        lambda: L.ZeroPadding2D(padding=(1, 2), **TF),
        (3, 3, 2),
    ),
    "Cropping2D": (
        lambda: L.Cropping2D(cropping=((1, 0), (0, 1)), **LAST),
        lambda: L.Cropping2D(cropping=((1, 0), (0, 1)), **TF),
        (4, 4, 2),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras2_spelling_builds_the_same_layer(case):
    same_layer(*CASES[case])


def test_keras2_data_format_follows_the_global_setting():
    """Keras 2 reads its default from image_data_format; lamella's is image_dim_ordering."""
    from lamella import backend as K

    assert L.Conv2D(4, (3, 3)).dim_ordering == K.image_dim_ordering()
    assert L.Conv2D(4, (3, 3), data_format=None).dim_ordering == K.image_dim_ordering()


def test_every_conv_layer_has_a_keras2_case():
    from lamella.plugins.first_party import CONV_LAYERS

    canonical = {type(factory()).__name__ for factory, _, _ in CASES.values()}
    same_in_both = {
        "ZeroPadding1D",
        "ZeroPadding3D",
        "Cropping1D",
        "Cropping3D",
        "GlobalMaxPooling2D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling3D",
    }  # spelled alike in Keras 1 and 2; their arguments are covered by the cases above
    names = {getattr(L, name).__name__ for name in CONV_LAYERS}
    assert names - canonical - same_in_both == set()
