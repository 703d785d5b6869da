"""Models: ``from lamella.models import Sequential, Model, load_model``."""

from lamella.engine.sequential import Sequential
from lamella.engine.training import Model

__all__ = ["Model", "Sequential"]
