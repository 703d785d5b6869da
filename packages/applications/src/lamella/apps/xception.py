"""Keras 1.2.2's ``applications.xception``: Xception (Chollet, 2016), depthwise separable
convolutions in 14 blocks with residual connections.

Keras 1.2.2 built it only in the 'tf' dim ordering (and only on TensorFlow, for its
separable convolutions; lamella has them on every device).  Under 'th' it warns and
returns the 'tf' model, as Keras did: its input is ``(299, 299, 3)`` then, and only its
layers are 'tf' (Keras switched the global setting while building; lamella leaves it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from lamella import backend as K
from lamella.apps import building
from lamella.apps.building import published
from lamella.apps.imagenet_utils import decode_predictions
from lamella.apps.inception_v3 import preprocess_input
from lamella.engine.training import Model
from lamella.layers import (
    Activation,
    BatchNormalization,
    Convolution2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    SeparableConvolution2D,
    merge,
)

__all__ = ["Xception", "decode_predictions", "preprocess_input"]

#: Keras's files by include_top ('tf' ordering only).  Keras 1.2.2 checked no hash for
#: them; these md5s are the ones later Keras versions check for the same files.
WEIGHTS = {
    True: published(
        "v0.4", "xception_weights_tf_dim_ordering_tf_kernels.h5", "0a58e3b7378bc2990ea3b43d5981f1f6"
    ),
    False: published(
        "v0.4",
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
}
TF = "tf"  # every spatial layer's dim ordering


def _residual(x: Any, filters: int) -> Any:
    """The shortcut of blocks 2-4 and 13: a strided 1x1 convolution with batch norm."""
    x = Convolution2D(
        filters, 1, 1, subsample=(2, 2), border_mode="same", bias=False, dim_ordering=TF
    )(x)
    return BatchNormalization()(x)


def _separable(x: Any, filters: int, name: str) -> Any:
    """A 3x3 separable convolution without bias, and its batch norm ('<name>_bn')."""
    x = SeparableConvolution2D(
        filters, 3, 3, border_mode="same", bias=False, dim_ordering=TF, name=name
    )(x)
    return BatchNormalization(name=f"{name}_bn")(x)


def _pool(x: Any, name: str) -> Any:
    return MaxPooling2D((3, 3), strides=(2, 2), border_mode="same", dim_ordering=TF, name=name)(x)


def Xception(
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    classes: int = 1000,
) -> Model:
    """Xception ('tf' dim ordering), with ImageNet weights unless ``weights=None``.

    With the top, the input is ``(299, 299, 3)``; without it, ``input_shape`` may be any
    3-channel size of at least 71x71.  Feed it images through ``preprocess_input``
    (Inception v3's scaling to -1..1).
    """
    building.check_weights("Xception", weights, include_top, classes)
    if K.image_dim_ordering() != TF:
        warnings.warn(
            "Xception exists only in the 'tf' dim ordering (rows, cols, channels), but "
            "image_dim_ordering is 'th': the model returned expects 'tf' inputs. Set "
            "image_dim_ordering to 'tf' (LAMELLA_IMAGE_DIM_ORDERING=tf) to silence this.",
            stacklevel=2,
        )
    shape = building.input_shape("Xception", input_shape, 299, 71, TF, include_top)
    image = building.image_input("Xception", input_tensor, shape)

    x = Convolution2D(32, 3, 3, subsample=(2, 2), bias=False, dim_ordering=TF, name="block1_conv1")(
        image
    )
    x = BatchNormalization(name="block1_conv1_bn")(x)
    x = Activation("relu", name="block1_conv1_act")(x)
    x = Convolution2D(64, 3, 3, bias=False, dim_ordering=TF, name="block1_conv2")(x)
    x = BatchNormalization(name="block1_conv2_bn")(x)
    x = Activation("relu", name="block1_conv2_act")(x)

    # Entry flow: blocks 2-4 halve the size; block 2 starts without a ReLU.
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        residual = _residual(x, filters)
        if block != 2:
            x = Activation("relu", name=f"block{block}_sepconv1_act")(x)
        x = _separable(x, filters, f"block{block}_sepconv1")
        x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
        x = _separable(x, filters, f"block{block}_sepconv2")
        x = _pool(x, f"block{block}_pool")
        x = merge([x, residual], mode="sum")

    # Middle flow: blocks 5-12, three separable convolutions around an identity.
    for block in range(5, 13):
        residual = x
        for conv in (1, 2, 3):
            x = Activation("relu", name=f"block{block}_sepconv{conv}_act")(x)
            x = _separable(x, 728, f"block{block}_sepconv{conv}")
        x = merge([x, residual], mode="sum")

    # Exit flow.
    residual = _residual(x, 1024)
    x = Activation("relu", name="block13_sepconv1_act")(x)
    x = _separable(x, 728, "block13_sepconv1")
    x = Activation("relu", name="block13_sepconv2_act")(x)
    x = _separable(x, 1024, "block13_sepconv2")
    x = _pool(x, "block13_pool")
    x = merge([x, residual], mode="sum")
    for conv, filters in ((1, 1536), (2, 2048)):
        x = _separable(x, filters, f"block14_sepconv{conv}")
        x = Activation("relu", name=f"block14_sepconv{conv}_act")(x)

    if include_top:
        x = GlobalAveragePooling2D(dim_ordering=TF, name="avg_pool")(x)
        x = Dense(classes, activation="softmax", name="predictions")(x)
    model = Model(building.model_inputs(input_tensor, image), x, name="xception")
    if weights == "imagenet":
        building.load_published(model, WEIGHTS[include_top])
    return model
