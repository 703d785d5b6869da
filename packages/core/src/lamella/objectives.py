"""``keras.objectives``, the Keras 1 name of :mod:`lamella.losses`, kept for ported code."""

from lamella import losses
from lamella.losses import *  # noqa: F403
from lamella.losses import get

__all__ = [*losses.__all__, "get"]
