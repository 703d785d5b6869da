"""Keras 1.2.2's ``applications.vgg19``: VGG19, 16 convolutions and 3 dense layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamella.apps.building import published
from lamella.apps.imagenet_utils import decode_predictions, preprocess_input
from lamella.apps.vgg import vgg
from lamella.engine.training import Model

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]

#: Keras's files by (dim ordering, include_top); Keras published md5s for the 'tf' ones.
WEIGHTS = {
    ("th", True): published("v0.1", "vgg19_weights_th_dim_ordering_th_kernels.h5"),
    ("th", False): published("v0.1", "vgg19_weights_th_dim_ordering_th_kernels_notop.h5"),
    ("tf", True): published(
        "v0.1", "vgg19_weights_tf_dim_ordering_tf_kernels.h5", "cbe5617147190e668d6c5d5026f83318"
    ),
    ("tf", False): published(
        "v0.1",
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
}


def VGG19(
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_tensor: Any = None,
    input_shape: Sequence[int | None] | None = None,
    classes: int = 1000,
) -> Model:
    """VGG19 in the configured dim ordering, with ImageNet weights unless ``weights=None``.

    With the top, the input is 224x224 RGB (``(3, 224, 224)`` for 'th'); without it,
    ``input_shape`` may be any 3-channel size of at least 48x48.  Feed it images through
    ``preprocess_input``.
    """
    return vgg("VGG19", (2, 2, 4, 4, 4), WEIGHTS, include_top, weights, input_tensor,
               input_shape, classes)  # fmt: skip
