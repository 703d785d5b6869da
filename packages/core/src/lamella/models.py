"""Models: ``from lamella.models import Sequential, Model, model_from_json``."""

from lamella.engine.saving import load_model, save_model
from lamella.engine.sequential import Sequential
from lamella.engine.serialization import model_from_config, model_from_json, model_from_yaml
from lamella.engine.training import Model

__all__ = [
    "Model",
    "Sequential",
    "load_model",
    "model_from_config",
    "model_from_json",
    "model_from_yaml",
    "save_model",
]
