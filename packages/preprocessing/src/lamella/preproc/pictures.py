"""Image files and arrays: PIL loading and saving, dim ordering, the shape checks.

Kept apart from the generator so the iterators can use it without a circular import.
"""

from __future__ import annotations

import os
import re

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from lamella.backend.config import image_dim_ordering

#: Channel counts an image array may have: grey, RGB, RGBA.
CHANNEL_COUNTS = (1, 3, 4)
_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def resolve_dim_ordering(dim_ordering: str, where: str) -> str:
    """'default' becomes the configured image_dim_ordering; anything but 'th'/'tf' is an error."""
    if dim_ordering == "default":
        dim_ordering = image_dim_ordering()
    if dim_ordering not in ("th", "tf"):
        raise ValueError(
            f"{where}: dim_ordering must be 'th', 'tf' or 'default', got {dim_ordering!r}"
        )
    return dim_ordering


def check_image_batch(x: np.ndarray, channel_axis: int, where: str, name: str = "x") -> None:
    """A batch must be rank 4 with 1, 3 or 4 channels on ``channel_axis``."""
    if x.ndim != 4:
        raise ValueError(f"{where}: {name} must be a rank-4 array of images, got shape {x.shape}")
    if x.shape[channel_axis] not in CHANNEL_COUNTS:
        raise ValueError(
            f"{where}: {name} must have 1, 3 or 4 channels on axis {channel_axis}, "
            f"got shape {x.shape} ({x.shape[channel_axis]} channels); is dim_ordering right?"
        )


def load_img(
    path: str | os.PathLike[str],
    grayscale: bool = False,
    target_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Open an image file as an RGB (or 'L' grey) PIL image, resized to (height, width) if asked.

    Resizing is nearest neighbour, as in Keras 1 (older Pillow's default).
    """
    with Image.open(path) as img:
        img = img.convert("L" if grayscale else "RGB")
    if target_size:
        height, width = target_size
        if (width, height) != img.size:
            img = img.resize((int(width), int(height)), Image.NEAREST)
    return img


def img_to_array(img: Image.Image, dim_ordering: str = "default") -> np.ndarray:
    """A float32 array (h, w, c) for 'tf' or (c, h, w) for 'th' from a PIL image."""
    dim_ordering = resolve_dim_ordering(dim_ordering, "img_to_array")
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(
            f"img_to_array: img must be a 2-D or 3-D picture, got array shape {x.shape}"
        )
    return np.ascontiguousarray(x.transpose(2, 0, 1)) if dim_ordering == "th" else x


def array_to_img(x: ArrayLike, dim_ordering: str = "default", scale: bool = True) -> Image.Image:
    """A PIL image from one image array; ``scale`` stretches the values onto 0..255.

    Scaling follows Keras 1: shift up by -min when the minimum is negative, then divide by
    the maximum.  Values are then rounded and clipped to 0..255 (Keras truncated, so a
    scaled 255 could come back as 254, and let out-of-range values wrap around).
    """
    x = np.array(x, dtype=np.float64)
    shape = x.shape
    if x.ndim != 3:
        raise ValueError(f"array_to_img: x must be a rank-3 image, got shape {x.shape}")
    dim_ordering = resolve_dim_ordering(dim_ordering, "array_to_img")
    if dim_ordering == "th":
        x = x.transpose(1, 2, 0)
    channels = x.shape[2]
    if channels not in CHANNEL_COUNTS:
        raise ValueError(
            f"array_to_img: x must have 1, 3 or 4 channels for dim_ordering {dim_ordering!r}, "
            f"got shape {shape} ({channels} channels)"
        )
    if scale:
        x += max(-x.min(), 0.0)
        peak = x.max()
        if peak != 0:
            x /= peak
        x *= 255.0
    pixels = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if channels == 1:
        pixels = pixels[:, :, 0]
    return Image.fromarray(pixels, _PIL_MODES[channels])


def list_pictures(directory: str | os.PathLike[str], ext: str = "jpg|jpeg|bmp|png") -> list[str]:
    """Paths of the files under ``directory`` (recursively, sorted) whose extension matches ``ext``.

    ``ext`` is a regex alternation as in Keras; the match is case-insensitive and anchored
    at the end of the name.
    """
    pattern = re.compile(rf".+\.(?:{ext})", re.IGNORECASE)
    return [
        os.path.join(root, name)
        for root, _, files in sorted(os.walk(directory))
        for name in sorted(files)
        if pattern.fullmatch(name)
    ]
