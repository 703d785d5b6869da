"""The VGG networks (Simonyan and Zisserman, 2014), VGG16 and VGG19 alike: five blocks of
3x3 convolutions, each closed by a 2x2 max pooling, and three dense layers on top."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lamella import backend as K
from lamella.apps.building import (
    WeightsFile,
    check_weights,
    image_input,
    input_shape,
    load_published,
    model_inputs,
)
from lamella.engine.training import Model
from lamella.layers import Convolution2D, Dense, Flatten, MaxPooling2D

#: The filters of each block's convolutions.
FILTERS = (64, 128, 256, 512, 512)


def vgg(
    function: str,
    convs_per_block: Sequence[int],
    files: Mapping[tuple[str, bool], WeightsFile],
    include_top: bool,
    weights: str | None,
    input_tensor: Any,
    shape: Sequence[int | None] | None,
    classes: int,
) -> Model:
    """A VGG network with ``convs_per_block[i]`` convolutions in block ``i + 1``; the
    weights come from ``files``, by (dim ordering, include_top)."""
    check_weights(function, weights, include_top, classes)
    ordering = K.image_dim_ordering()
    shape = input_shape(function, shape, 224, 48, ordering, include_top)
    image = image_input(function, input_tensor, shape)
    x = image
    for block, (filters, convs) in enumerate(zip(FILTERS, convs_per_block, strict=True), 1):
        for conv in range(1, convs + 1):
            x = Convolution2D(
                filters,
                3,
                3,
                activation="relu",
                border_mode="same",
                name=f"block{block}_conv{conv}",
            )(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        x = Dense(classes, activation="softmax", name="predictions")(x)
    model = Model(model_inputs(input_tensor, image), x, name=function.lower())
    if weights == "imagenet":
        load_published(model, files[ordering, include_top])
    return model
