"""``keras.initializations``, the Keras 1 name of :mod:`lamella.initializers`, for ported code."""

from lamella import initializers
from lamella.initializers import *  # noqa: F403
from lamella.initializers import get

__all__ = [*initializers.__all__, "get"]
