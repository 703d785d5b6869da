"""Keras 2 and Keras 3 (legacy ``.h5``) files into lamella's Keras 1 layers (docs/keras2.md).

Two jobs, kept apart: ``config`` translates a model config into Keras 1's form (driven by
``tables``, with ``arguments`` and ``rewrites`` for what renaming alone does not do);
``weights`` converts the arrays into the layouts of lamella's layers.  The reader needs
only the names below.
"""

from lamella.hdf5.keras2.config import is_keras2, model_config
from lamella.hdf5.keras2.weights import convert

__all__ = ["convert", "is_keras2", "model_config"]
