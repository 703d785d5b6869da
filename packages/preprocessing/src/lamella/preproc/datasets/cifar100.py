"""CIFAR-100: 60,000 32x32 colour images in 100 classes (20 superclasses), binary version."""

from __future__ import annotations

import numpy as np

from lamella.preproc.datasets.cifar import in_image_order, read_batches
from lamella.preproc.datasets.sources import Published, locate

__all__ = ["load_data"]

#: The md5 listed for the binary version on https://www.cs.toronto.edu/~kriz/cifar.html.
CIFAR100 = Published(
    "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"
)
FOLDER = "cifar-100-binary"
LABEL_COLUMNS = {"coarse": 0, "fine": 1}  # each record starts with both label bytes

Split = tuple[np.ndarray, np.ndarray]


def load_data(
    label_mode: str = "fine", path: str = "cifar-100-binary.tar.gz"
) -> tuple[Split, Split]:
    """Like ``cifar10.load_data``; ``label_mode`` 'fine' gives the 100 classes, 'coarse' the 20."""
    if label_mode not in LABEL_COLUMNS:
        raise ValueError(
            f"cifar100.load_data: label_mode must be 'fine' or 'coarse', got {label_mode!r}"
        )
    archive, _ = locate(path, CIFAR100)
    column = LABEL_COLUMNS[label_mode]
    splits = []
    for member in ("train.bin", "test.bin"):
        images, labels = read_batches(archive, [f"{FOLDER}/{member}"], label_bytes=2)
        splits.append((in_image_order(images), labels[:, column : column + 1]))
    return splits[0], splits[1]
