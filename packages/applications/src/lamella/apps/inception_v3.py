"""Keras 1.2.2's ``applications.inception_v3``: Inception v3 (Szegedy et al., 2015).

Its input is 299x299 (not 224) and scaled to -1..1 by this module's own
``preprocess_input`` (not Caffe's mean subtraction).  As in Keras 1.2.2 every
convolution has a bias and a ReLU and is followed by batch normalization, and only the
``mixed`` concatenations are named; the weights file is read by layer order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lamella import backend as K
from lamella.apps import building
from lamella.apps.building import published
from lamella.apps.imagenet_utils import decode_predictions, image_batch
from lamella.engine.training import Model
from lamella.layers import (
    AveragePooling2D,
    BatchNormalization,
    Convolution2D,
    Dense,
    Flatten,
    MaxPooling2D,
    merge,
)

__all__ = ["InceptionV3", "conv2d_bn", "decode_predictions", "preprocess_input"]

#: Keras's files by (dim ordering, include_top), with the md5s Keras checks.
WEIGHTS = {
    ("th", True): published(
        "v0.2",
        "inception_v3_weights_th_dim_ordering_th_kernels.h5",
        "b3baf3070cc4bf476d43a2ea61b0ca5f",
    ),
    ("th", False): published(
        "v0.2",
        "inception_v3_weights_th_dim_ordering_th_kernels_notop.h5",
        "79aaa90ab4372b4593ba3df64e142f05",
    ),
    ("tf", True): published(
        "v0.2",
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        "fe114b3ff2ea4bf891e9353d1bbfb32f",
    ),
    ("tf", False): published(
        "v0.2",
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "2f3609166de1d967d1a481094754f691",
    ),
}


def _channel_axis() -> int:
    return 1 if K.image_dim_ordering() == "th" else 3


def conv2d_bn(
    x: Any,
    nb_filter: int,
    nb_row: int,
    nb_col: int,
    border_mode: str = "same",
    subsample: Sequence[int] = (1, 1),
    name: str | None = None,
) -> Any:
    """A convolution with ReLU, then batch normalization over the channels; with
    ``name``, the layers are '<name>_conv' and '<name>_bn'."""
    conv_name, bn_name = (f"{name}_conv", f"{name}_bn") if name is not None else (None, None)
    x = Convolution2D(
        nb_filter,
        nb_row,
        nb_col,
        subsample=subsample,
        activation="relu",
        border_mode=border_mode,
        name=conv_name,
    )(x)
    return BatchNormalization(axis=_channel_axis(), name=bn_name)(x)


def _concat(tensors: list[Any], name: str | None = None) -> Any:
    return merge(tensors, mode="concat", concat_axis=_channel_axis(), name=name)


def _pool_branch(x: Any, filters: int) -> Any:
    """A 3x3 average pooling (stride 1) and a 1x1 convolution."""
    x = AveragePooling2D((3, 3), strides=(1, 1), border_mode="same")(x)
    return conv2d_bn(x, filters, 1, 1)


def _mixed_35(x: Any, name: str) -> Any:
    """Blocks mixed0-2 (35x35x256): 1x1, 5x5, double 3x3 and pooling branches."""
    branch1x1 = conv2d_bn(x, 64, 1, 1)
    branch5x5 = conv2d_bn(x, 48, 1, 1)
    branch5x5 = conv2d_bn(branch5x5, 64, 5, 5)
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    return _concat([branch1x1, branch5x5, branch3x3dbl, _pool_branch(x, 32)], name)


def _mixed_17(x: Any, width: int, name: str, double_in: int | None = None) -> Any:
    """Blocks mixed4-7 (17x17x768): 1x1, factorised 7x7, double 7x7 and pooling branches,
    the 7x7 ones ``width`` filters wide inside (the double one's 1x1 ``double_in``, which
    Keras 1.2.2 set to 160 in mixed7)."""
    branch1x1 = conv2d_bn(x, 192, 1, 1)
    branch7x7 = conv2d_bn(x, width, 1, 1)
    branch7x7 = conv2d_bn(branch7x7, width, 1, 7)
    branch7x7 = conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = conv2d_bn(x, double_in or width, 1, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, width, 7, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, width, 1, 7)
    branch7x7dbl = conv2d_bn(branch7x7dbl, width, 7, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, 192, 1, 7)
    return _concat([branch1x1, branch7x7, branch7x7dbl, _pool_branch(x, 192)], name)


def _mixed_8(x: Any, index: int) -> Any:
    """Blocks mixed9 and mixed10 (8x8x2048): 1x1, split 3x3, split double 3x3 and pooling
    branches."""
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3_1 = conv2d_bn(branch3x3, 384, 1, 3)
    branch3x3_2 = conv2d_bn(branch3x3, 384, 3, 1)
    branch3x3 = _concat([branch3x3_1, branch3x3_2], f"mixed9_{index}")
    branch3x3dbl = conv2d_bn(x, 448, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 384, 3, 3)
    branch3x3dbl_1 = conv2d_bn(branch3x3dbl, 384, 1, 3)
    branch3x3dbl_2 = conv2d_bn(branch3x3dbl, 384, 3, 1)
    branch3x3dbl = _concat([branch3x3dbl_1, branch3x3dbl_2])
    pool = _pool_branch(x, 192)
    return _concat([branch1x1, branch3x3, branch3x3dbl, pool], f"mixed{9 + index}")


def InceptionV3(
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    classes: int = 1000,
) -> Model:
    """Inception v3 in the configured dim ordering, with ImageNet weights unless
    ``weights=None``.

    With the top, the input is 299x299 RGB; without it, ``input_shape`` may be any
    3-channel size of at least 139x139.  Feed it images through this module's
    ``preprocess_input``.
    """
    building.check_weights("InceptionV3", weights, include_top, classes)
    ordering = K.image_dim_ordering()
    shape = building.input_shape("InceptionV3", input_shape, 299, 139, ordering, include_top)
    image = building.image_input("InceptionV3", input_tensor, shape)

    x = conv2d_bn(image, 32, 3, 3, subsample=(2, 2), border_mode="valid")
    x = conv2d_bn(x, 32, 3, 3, border_mode="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, border_mode="valid")
    x = conv2d_bn(x, 192, 3, 3, border_mode="valid")
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)

    for i in range(3):
        x = _mixed_35(x, f"mixed{i}")

    branch3x3 = conv2d_bn(x, 384, 3, 3, subsample=(2, 2), border_mode="valid")
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, subsample=(2, 2), border_mode="valid")
    pool = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _concat([branch3x3, branch3x3dbl, pool], "mixed3")  # 17 x 17 x 768

    x = _mixed_17(x, 128, "mixed4")
    for i in range(2):
        x = _mixed_17(x, 160, f"mixed{5 + i}")
    x = _mixed_17(x, 192, "mixed7", double_in=160)

    branch3x3 = conv2d_bn(x, 192, 1, 1)
    branch3x3 = conv2d_bn(branch3x3, 320, 3, 3, subsample=(2, 2), border_mode="valid")
    branch7x7x3 = conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, subsample=(2, 2), border_mode="valid")
    pool = AveragePooling2D((3, 3), strides=(2, 2))(x)
    x = _concat([branch3x3, branch7x7x3, pool], "mixed8")  # 8 x 8 x 1280

    for i in range(2):
        x = _mixed_8(x, i)

    if include_top:
        x = AveragePooling2D((8, 8), strides=(8, 8), name="avg_pool")(x)
        x = Flatten(name="flatten")(x)
        x = Dense(classes, activation="softmax", name="predictions")(x)
    model = Model(building.model_inputs(input_tensor, image), x, name="inception_v3")
    if weights == "imagenet":
        building.load_published(model, WEIGHTS[ordering, include_top])
    return model


def preprocess_input(x: Any) -> np.ndarray:
    """Images with channels in 0..255 scaled to -1..1, as Inception v3 and Xception were
    trained (a float copy; Keras 1.2.2 changed the caller's array in place)."""
    x = image_batch("preprocess_input", x)
    return (x / 255.0 - 0.5) * 2.0
