"""Keras 1.2.2's ``applications.resnet50``: ResNet50 (He et al., 2015), 16 bottleneck
blocks of 1x1, 3x3 and 1x1 convolutions with batch normalization, each added to a shortcut."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamella import backend as K
from lamella.apps import building
from lamella.apps.building import published
from lamella.apps.imagenet_utils import decode_predictions, preprocess_input
from lamella.engine.training import Model
from lamella.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Convolution2D,
    Dense,
    Flatten,
    MaxPooling2D,
    ZeroPadding2D,
    merge,
)

__all__ = ["ResNet50", "conv_block", "decode_predictions", "identity_block", "preprocess_input"]

#: Keras's files by (dim ordering, include_top), with the md5s Keras checks.
WEIGHTS = {
    ("th", True): published(
        "v0.2", "resnet50_weights_th_dim_ordering_th_kernels.h5", "1c1f8f5b0c8ee28fe9d950625a230e1c"
    ),
    ("th", False): published(
        "v0.2",
        "resnet50_weights_th_dim_ordering_th_kernels_notop.h5",
        "f64f049c92468c9affcd44b0976cdafe",
    ),
    ("tf", True): published(
        "v0.2", "resnet50_weights_tf_dim_ordering_tf_kernels.h5", "a7b3fe01876f51b976af0dea6bc144eb"
    ),
    ("tf", False): published(
        "v0.2",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "a268eb855778b3df3c7506639542a6af",
    ),
}


def _channel_axis() -> int:
    return 1 if K.image_dim_ordering() == "th" else 3


def _bottleneck(
    x: Any, kernel_size: int, filters: Sequence[int], stage: int, block: str, strides: Any
) -> Any:
    """The main path of a block: 1x1 (strided), kernel_size x kernel_size, 1x1."""
    first, middle, last = filters
    conv, bn, axis = f"res{stage}{block}_branch", f"bn{stage}{block}_branch", _channel_axis()
    x = Convolution2D(first, 1, 1, subsample=strides, name=conv + "2a")(x)
    x = BatchNormalization(axis=axis, name=bn + "2a")(x)
    x = Activation("relu")(x)
    x = Convolution2D(middle, kernel_size, kernel_size, border_mode="same", name=conv + "2b")(x)
    x = BatchNormalization(axis=axis, name=bn + "2b")(x)
    x = Activation("relu")(x)
    x = Convolution2D(last, 1, 1, name=conv + "2c")(x)
    return BatchNormalization(axis=axis, name=bn + "2c")(x)


def identity_block(
    input_tensor: Any, kernel_size: int, filters: Sequence[int], stage: int, block: str
) -> Any:
    """A block whose shortcut is its input unchanged; layers are named after ``stage``
    and ``block`` ('res2b_branch2a', 'bn2b_branch2a' ...)."""
    x = _bottleneck(input_tensor, kernel_size, filters, stage, block, (1, 1))
    x = merge([x, input_tensor], mode="sum")
    return Activation("relu")(x)


def conv_block(
    input_tensor: Any,
    kernel_size: int,
    filters: Sequence[int],
    stage: int,
    block: str,
    strides: Sequence[int] = (2, 2),
) -> Any:
    """A block whose shortcut is a strided 1x1 convolution with batch normalization, to
    the main path's size (named '..._branch1')."""
    x = _bottleneck(input_tensor, kernel_size, filters, stage, block, strides)
    shortcut = Convolution2D(
        filters[2], 1, 1, subsample=strides, name=f"res{stage}{block}_branch1"
    )(input_tensor)
    shortcut = BatchNormalization(axis=_channel_axis(), name=f"bn{stage}{block}_branch1")(shortcut)
    x = merge([x, shortcut], mode="sum")
    return Activation("relu")(x)


#: Per stage: the filters of its blocks and how many identity blocks follow its conv block.
STAGES = ((2, (64, 64, 256), 2), (3, (128, 128, 512), 3), (4, (256, 256, 1024), 5),
          (5, (512, 512, 2048), 2))  # fmt: skip


def ResNet50(
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    classes: int = 1000,
) -> Model:
    """ResNet50 in the configured dim ordering, with ImageNet weights unless
    ``weights=None``.

    With the top, the input is 224x224 RGB; without it, ``input_shape`` may be any
    3-channel size of at least 197x197 (the network ends in a 7x7 average pooling, as in
    Keras 1.2.2, with or without the top).  Feed it images through ``preprocess_input``.
    """
    building.check_weights("ResNet50", weights, include_top, classes)
    ordering = K.image_dim_ordering()
    shape = building.input_shape("ResNet50", input_shape, 224, 197, ordering, include_top)
    image = building.image_input("ResNet50", input_tensor, shape)
    x = ZeroPadding2D((3, 3))(image)
    x = Convolution2D(64, 7, 7, subsample=(2, 2), name="conv1")(x)
    x = BatchNormalization(axis=_channel_axis(), name="bn_conv1")(x)
    x = Activation("relu")(x)
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    for stage, filters, identities in STAGES:
        strides = (1, 1) if stage == 2 else (2, 2)
        x = conv_block(x, 3, filters, stage=stage, block="a", strides=strides)
        for block in "bcdef"[:identities]:
            x = identity_block(x, 3, filters, stage=stage, block=block)
    x = AveragePooling2D((7, 7), name="avg_pool")(x)
    if include_top:
        x = Flatten()(x)
        x = Dense(classes, activation="softmax", name="fc1000")(x)
    model = Model(building.model_inputs(input_tensor, image), x, name="resnet50")
    if weights == "imagenet":
        building.load_published(model, WEIGHTS[ordering, include_top])
    return model
