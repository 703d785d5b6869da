"""``keras.initializations``, the Keras 1 name of :mod:`lamella.initializers`, for ported code."""

from lamella import initializers
from lamella.initializers import *  # noqa: F403
from lamella.initializers import get
from lamella.utils.generic_utils import get_from_module

__all__ = [*initializers.__all__, "get", "get_from_module"]
