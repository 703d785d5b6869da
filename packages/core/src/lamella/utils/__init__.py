"""Keras 1's utilities: ``np_utils``, ``generic_utils``, ``layer_utils``."""
