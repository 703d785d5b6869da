"""CIFAR-10: 60,000 32x32 colour images in 10 classes, from the binary version."""

from __future__ import annotations

import numpy as np

from lamella.preproc.datasets.cifar import in_image_order, read_batches
from lamella.preproc.datasets.sources import Published, locate

__all__ = ["load_data"]

#: The md5 listed for the binary version on https://www.cs.toronto.edu/~kriz/cifar.html.
CIFAR10 = Published(
    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"
)
FOLDER = "cifar-10-batches-bin"

Split = tuple[np.ndarray, np.ndarray]


def load_data(path: str = "cifar-10-binary.tar.gz") -> tuple[Split, Split]:
    """``(X_train, y_train), (X_test, y_test)``: uint8 images (50000, 3, 32, 32) and
    labels (50000, 1); images are (n, 32, 32, 3) when the image ordering is 'tf'."""
    archive, _ = locate(path, CIFAR10)
    train = [f"{FOLDER}/data_batch_{i}.bin" for i in range(1, 6)]
    x_train, y_train = read_batches(archive, train, label_bytes=1)
    x_test, y_test = read_batches(archive, [f"{FOLDER}/test_batch.bin"], label_bytes=1)
    return (in_image_order(x_train), y_train), (in_image_order(x_test), y_test)
