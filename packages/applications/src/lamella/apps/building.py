"""What every application shares: argument checks, the input tensor, the published weights.

The weights files are the ones Keras published for Keras 1.2.2 (github.com/fchollet/
deep-learning-models releases).  They are fetched by core's ``get_file`` (checked against
the hash Keras published, resumed when cut off, never kept when corrupt) into
``$LAMELLA_HOME/models`` (``~/.lamella/models``; Keras used ``~/.keras/models``), and read
by lamella-io-hdf5's ``load_weights``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamella import backend as K
from lamella.engine.topology import Input, get_source_inputs
from lamella.utils.data_utils import get_file
from lamella.utils.layer_utils import convert_all_kernels_in_model

#: Where Keras published the weights of its applications, one folder per release.
RELEASES = "https://github.com/fchollet/deep-learning-models/releases/download/"
#: The cache folder the weights go to, under ``$LAMELLA_HOME`` (Keras: ``~/.keras/models``).
CACHE_SUBDIR = "models"


@dataclass(frozen=True)
class WeightsFile:
    """One published weights file.

    ``md5`` is the hash Keras's own code checks (None where Keras published none: the
    VGG files for Theano and the music tagger's).  ``th_kernels`` marks files trained
    with Theano, whose convolution flips kernels: lamella correlates, as TensorFlow
    does, so their kernels are flipped after loading (what Keras 1.2.2 did on TensorFlow).
    """

    name: str
    origin: str
    md5: str | None = None
    th_kernels: bool = False


def published(release: str, name: str, md5: str | None = None) -> WeightsFile:
    """A file of one of Keras's releases; its name says whether it holds Theano kernels."""
    return WeightsFile(name, f"{RELEASES}{release}/{name}", md5, "_th_kernels" in name)


def load_published(model: Any, weights: WeightsFile, by_name: bool = False) -> None:
    """Fetch ``weights`` into the cache (once; checked every time) and load it into ``model``."""
    path = get_file(weights.name, weights.origin, cache_subdir=CACHE_SUBDIR, md5_hash=weights.md5)
    model.load_weights(path, by_name=by_name)
    if weights.th_kernels:
        convert_all_kernels_in_model(model)


def check_weights(
    function: str,
    weights: str | None,
    include_top: bool,
    classes: int,
    pretrained: str = "imagenet",
    pretrained_classes: int = 1000,
) -> None:
    """Keras's rules: ``weights`` is None or the one pretrained set, and a pretrained top
    classifies into the classes it was trained on."""
    if weights not in (pretrained, None):
        raise ValueError(
            f"{function}: weights must be None (random initialization) or {pretrained!r} "
            f"(pretrained), got {weights!r}"
        )
    if weights == pretrained and include_top and classes != pretrained_classes:
        raise ValueError(
            f"{function}: with weights={pretrained!r} and include_top=True, classes must be "
            f"{pretrained_classes} (the classes the weights were trained on), got {classes!r}"
        )


def input_shape(
    function: str,
    shape: Sequence[int | None] | None,
    default_size: int,
    min_size: int,
    dim_ordering: str,
    include_top: bool,
) -> tuple[int | None, ...]:
    """The image shape a model is built for: the default size with the top (whose dense
    layers fix it), else ``shape`` checked (3 channels, each side at least ``min_size``)
    or any size."""
    channels_first = dim_ordering == "th"
    default = (3, default_size, default_size) if channels_first else (default_size, default_size, 3)
    if include_top:
        if shape is not None and tuple(shape) != default:
            raise ValueError(
                f"{function}: with include_top=True, input_shape must be {default} (the size "
                f"the top's dense layers are built for), got {tuple(shape)}"
            )
        return default
    if shape is None:
        return (3, None, None) if channels_first else (None, None, 3)
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(f"{function}: input_shape must hold three integers, got {shape}")
    channels, sides = (shape[0], shape[1:]) if channels_first else (shape[-1], shape[:2])
    if channels != 3:
        where = "first" if channels_first else "last"
        raise ValueError(
            f"{function}: input_shape must have 3 channels ({where}, dim_ordering "
            f"{dim_ordering!r}), got {shape}"
        )
    if any(side is not None and side < min_size for side in sides):
        raise ValueError(
            f"{function}: input_shape must be at least {min_size}x{min_size}, got {shape}"
        )
    return shape


def image_input(function: str, input_tensor: Any, shape: tuple[int | None, ...]) -> Any:
    """The tensor the model starts from: a new ``Input`` or the caller's symbolic tensor."""
    if input_tensor is None:
        return Input(shape=shape)
    if not K.is_keras_tensor(input_tensor):
        raise TypeError(
            f"{function}: input_tensor must be a symbolic tensor (from Input() or a layer "
            f"call), got {type(input_tensor).__name__}; lamella builds models on symbolic "
            "tensors only"
        )
    return input_tensor


def model_inputs(input_tensor: Any, image: Any) -> Any:
    """The model's inputs: the ``Input`` tensors upstream of the caller's tensor, if any."""
    return image if input_tensor is None else get_source_inputs(image)
