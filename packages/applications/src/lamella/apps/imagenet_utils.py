"""Keras 1.2.2's ``applications.imagenet_utils``: the input and output conventions of the
ImageNet models trained with Caffe's recipe (VGG16, VGG19, ResNet50)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lamella import backend as K
from lamella.apps.building import CACHE_SUBDIR
from lamella.utils.data_utils import get_file

__all__ = ["decode_predictions", "preprocess_input"]

#: The ImageNet classes, ``{"0": ["n01440764", "tench"], ...}``, and the hash Keras checks.
CLASS_INDEX_PATH = (
    "https://s3.amazonaws.com/deep-learning-models/image-models/imagenet_class_index.json"
)
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
#: The class index once read (as in Keras, assign it to use one of your own).
CLASS_INDEX: dict[str, list[str]] | None = None
#: The mean ImageNet pixel, in BGR order, that Caffe's VGG and ResNet models subtract.
BGR_MEAN = (103.939, 116.779, 123.68)


def image_batch(function: str, x: Any) -> np.ndarray:
    """A float copy of a batch of images (4D) or of one image (3D): the caller's array is
    left alone, where Keras 1.2.2 changed it in place."""
    array = np.asarray(x)
    if array.ndim not in (3, 4):
        raise ValueError(
            f"{function}: x must be a batch of images (4D) or one image (3D), got shape "
            f"{array.shape}"
        )
    dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else K.floatx()
    return np.array(array, dtype=dtype)


def preprocess_input(x: Any, dim_ordering: str = "default") -> np.ndarray:
    """Images with RGB channels in 0..255 as the Caffe-trained models saw them: channels
    reversed to BGR, then the mean ImageNet pixel subtracted (no scaling)."""
    if dim_ordering == "default":
        dim_ordering = K.image_dim_ordering()
    if dim_ordering not in ("th", "tf"):
        raise ValueError(
            f"preprocess_input: dim_ordering must be 'th', 'tf' or 'default', got {dim_ordering!r}"
        )
    x = image_batch("preprocess_input", x)
    axis = -3 if dim_ordering == "th" else -1
    if x.shape[axis] != 3:
        raise ValueError(
            f"preprocess_input: expected 3 channels on axis {axis} (dim_ordering "
            f"{dim_ordering!r}), got shape {x.shape}"
        )
    x = np.flip(x, axis=axis)
    mean = np.asarray(BGR_MEAN, dtype=x.dtype).reshape((3, 1, 1) if axis == -3 else (3,))
    return x - mean


def class_index() -> dict[str, list[str]]:
    """``CLASS_INDEX``, read from Keras's published file (fetched once into the cache)."""
    global CLASS_INDEX
    if CLASS_INDEX is None:
        path = get_file(
            "imagenet_class_index.json",
            CLASS_INDEX_PATH,
            cache_subdir=CACHE_SUBDIR,
            md5_hash=CLASS_INDEX_MD5,
        )
        with open(path, encoding="utf-8") as file:
            CLASS_INDEX = json.load(file)
    return CLASS_INDEX


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[str, str, Any]]]:
    """For each row of ImageNet class probabilities, the ``top`` classes, most probable
    first, as ``(wordnet id, class name, probability)``."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "decode_predictions: expected a batch of ImageNet predictions, shape "
            f"(samples, 1000), got shape {preds.shape}"
        )
    index = class_index()
    results = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        results.append([(*index[str(i)], row[i]) for i in best])
    return results
