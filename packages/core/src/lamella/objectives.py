"""``keras.objectives``, the Keras 1 name of :mod:`lamella.losses`, kept for ported code."""

from lamella import losses
from lamella.losses import *  # noqa: F403
from lamella.losses import get
from lamella.utils.generic_utils import get_from_module

__all__ = [*losses.__all__, "get", "get_from_module"]
