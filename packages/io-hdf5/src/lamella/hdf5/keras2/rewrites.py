"""Keras 2/3 layers that take more than renaming to become Keras 1 layers.

Some are another Keras 1 layer with settings (ReLU, Softmax); some need an argument
worked out from their input shape (Conv2DTranspose's ``output_shape``, the
channels-first Flatten, ``Dot(normalize=True)``); ZeroPadding's nested pairs flatten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def rewritten(keras2_class: str, layer: str, config: dict[str, Any]) -> tuple[str, dict]:
    """Keras 2/3 layers that are one of Keras 1's layers with some settings: ReLU is
    Activation('relu') or LeakyReLU, Softmax over the last axis Activation('softmax')."""
    if keras2_class == "ReLU":
        slope = config.pop("negative_slope", 0.0) or 0.0
        ceiling, threshold = config.pop("max_value", None), config.pop("threshold", 0.0)
        if ceiling is not None or threshold:
            raise ValueError(
                f"ReLU layer {layer!r} has max_value={ceiling!r}, threshold={threshold!r}: "
                "Keras 1 has no ReLU with a ceiling or a threshold"
            )
        if slope:
            return "LeakyReLU", {**config, "alpha": slope}
        return "Activation", {**config, "activation": "relu"}
    if keras2_class == "Softmax":
        axis = config.pop("axis", -1)
        if axis not in (-1, [-1]):
            raise ValueError(
                f"Softmax layer {layer!r} has axis={axis!r}: Keras 1's softmax takes the last "
                "axis (-1)"
            )
        return "Activation", {**config, "activation": "softmax"}
    return keras2_class, config


def transposed_shape(layer: str, config: dict[str, Any], input_shape: Any) -> list[Any]:
    """The output shape of a Conv2DTranspose (Keras 1's Deconvolution2D needs it), from
    its input shape, strides, padding and ``output_padding`` (popped from ``config``)."""
    extra = config.pop("output_padding", None)
    first = config.get("data_format") == "channels_first"
    sizes = (input_shape[2:] if first else input_shape[1:-1]) if input_shape else [None]
    kernel = _pair(config.get("kernel_size"))
    strides = _pair(config.get("strides", 1))
    extras = [None, None] if extra is None else _pair(extra)
    same = config.get("padding", "valid") == "same"
    out = []
    for size, k, s, p in zip(sizes, kernel, strides, extras, strict=False):
        if size is None:
            raise ValueError(
                f"Conv2DTranspose layer {layer!r}: its input has no fixed rows and columns "
                f"({input_shape}), which Keras 1's Deconvolution2D needs for its output_shape"
            )
        if p is None:
            length = size * s if same else size * s + max(k - s, 0)
        else:
            length = (size - 1) * s + (k % 2 if same else k) + p
        back = -(-length // s) if same else (length - k) // s + 1
        if back != size:
            raise ValueError(
                f"Conv2DTranspose layer {layer!r} has output_padding={extra!r}: its output "
                f"size {length} does not convolve back to its input size {size}, which "
                "Keras 1's Deconvolution2D requires"
            )
        out.append(length)
    filters = config.get("filters")
    return [None, filters, *out] if first else [None, *out, filters]


def channels_first_flatten(layer: str, config: Mapping[str, Any], input_shape: Any) -> dict:
    """Keras 2/3's Flatten(data_format='channels_first') moves the channels last, then
    flattens: Keras 1's Permute and Flatten, in a Sequential named as the layer."""
    if input_shape is None:
        raise ValueError(f"Flatten layer {layer!r}: its input shape is unknown")
    if len(input_shape) <= 2:
        kept = {k: v for k, v in config.items() if k in ("name", "trainable")}
        return {"class_name": "Flatten", "config": kept}
    dims = [*range(2, len(input_shape)), 1]
    permute = {"name": f"{layer}_channels_last", "dims": dims,
               "batch_input_shape": list(input_shape)}  # fmt: skip
    layers = [{"class_name": "Permute", "config": permute},
              {"class_name": "Flatten", "config": {"name": f"{layer}_flatten"}}]  # fmt: skip
    return {"class_name": "Sequential", "config": {"name": layer, "layers": layers}}


def cosine_mode(layer: str, input_shape: Any) -> str:
    """Dot(normalize=True) is Keras 1's Merge(mode='cos') for two (batch, n) inputs."""
    if input_shape is None or any(len(shape) != 2 for shape in input_shape):
        raise ValueError(
            f"Dot layer {layer!r} has normalize=True on inputs of shapes {input_shape}: "
            "Keras 1's Merge(mode='cos') takes two (batch, n) inputs only"
        )
    return "cos"


def keras1_padding(keras2_class: str, layer: str, value: Any) -> Any:
    """ZeroPadding2D's ((top, bottom), (left, right)) is Keras 1's (top, bottom, left,
    right); ZeroPadding3D's pairs must be symmetric, Keras 1's (dim1, dim2, dim3)."""
    if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
        return value
    if keras2_class == "ZeroPadding2D":
        return [side for pair in value for side in pair]
    if any(before != after for before, after in value):
        raise ValueError(
            f"{keras2_class} layer {layer!r} has padding={value!r}: Keras 1's ZeroPadding3D "
            "pads both ends of an axis alike"
        )
    return [before for before, _ in value]


def _pair(value: Any) -> list[Any]:
    return [value, value] if isinstance(value, int) else list(value)
