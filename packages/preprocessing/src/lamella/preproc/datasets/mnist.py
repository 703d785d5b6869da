"""MNIST: 70,000 28x28 grey handwritten digits, from Keras's ``mnist.npz``."""

from __future__ import annotations

import numpy as np

from lamella.preproc.datasets.sources import KERAS_ORIGIN, Published, read_npz

__all__ = ["load_data"]

#: The sha256 that tf.keras and Keras 3 (keras/datasets/mnist.py, load_data) give
#: get_file for this origin.
MNIST = Published(
    KERAS_ORIGIN + "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
)

Split = tuple[np.ndarray, np.ndarray]


def load_data(path: str = "mnist.npz") -> tuple[Split, Split]:
    """``(X_train, y_train), (X_test, y_test)``: uint8 images (n, 28, 28), uint8 labels (n,)."""
    arrays = read_npz(path, MNIST, ("x_train", "y_train", "x_test", "y_test"))
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
