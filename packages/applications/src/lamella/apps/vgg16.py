"""Keras 1.2.2's ``applications.vgg16``: VGG16, 13 convolutions and 3 dense layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamella.apps.building import published
from lamella.apps.imagenet_utils import decode_predictions, preprocess_input
from lamella.apps.vgg import vgg
from lamella.engine.training import Model

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]

#: Keras's files by (dim ordering, include_top); Keras published md5s for the 'tf' ones.
WEIGHTS = {
    ("th", True): published("v0.1", "vgg16_weights_th_dim_ordering_th_kernels.h5"),
    ("th", False): published("v0.1", "vgg16_weights_th_dim_ordering_th_kernels_notop.h5"),
    ("tf", True): published(
        "v0.1", "vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"
    ),
    ("tf", False): published(
        "v0.1",
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
}


def VGG16(
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    classes: int = 1000,
) -> Model:
    """VGG16 in the configured dim ordering, with ImageNet weights unless ``weights=None``.

    With the top, the input is 224x224 RGB (``(3, 224, 224)`` for 'th'); without it,
    ``input_shape`` may be any 3-channel size of at least 48x48.  Feed it images through
    ``preprocess_input``.
    """
    return vgg("VGG16", (2, 2, 3, 3, 3), WEIGHTS, include_top, weights, input_tensor,
               input_shape, classes)  # fmt: skip
