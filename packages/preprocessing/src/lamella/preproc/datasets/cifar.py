"""CIFAR's binary version: fixed-size records read straight out of the ``.tar.gz``.

Each record is the label byte(s) then 3072 pixel bytes, the red, green and blue
32x32 planes in turn, so a record is already a channels-first image.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from lamella.backend import image_dim_ordering

PIXELS = 3 * 32 * 32


def read_batches(archive: Path, members: list[str], label_bytes: int) -> tuple[np.ndarray, ...]:
    """Images (n, 3, 32, 32) and labels (n, label_bytes) of the named members, in order."""
    with tarfile.open(archive, "r:gz") as tar:
        names = set(tar.getnames())
        missing = [m for m in members if m not in names]
        if missing:
            raise ValueError(f"{archive} is not CIFAR's binary version: it lacks {missing}")
        data = b"".join(tar.extractfile(member).read() for member in members)  # type: ignore[union-attr]
    width = label_bytes + PIXELS
    if len(data) % width:
        raise ValueError(
            f"{archive}: {len(data)} bytes is not a whole number of {width}-byte records"
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, width)
    # copies: views of the bytes read would be read-only and keep the records interleaved
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32).copy()
    return images, records[:, :label_bytes].copy()


def in_image_order(images: np.ndarray) -> np.ndarray:
    """Channels first ('th'), or (n, 32, 32, 3) when ``image_dim_ordering()`` is 'tf'."""
    return images.transpose(0, 2, 3, 1) if image_dim_ordering() == "tf" else images
