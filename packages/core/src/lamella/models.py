"""Models: ``from lamella.models import Sequential, Model, model_from_json``."""

from lamella.engine.merge import Merge
from lamella.engine.saving import load_model, save_model
from lamella.engine.sequential import Sequential
from lamella.engine.serialization import model_from_config, model_from_json, model_from_yaml
from lamella.engine.topology import Layer, Node, get_source_inputs
from lamella.engine.training import Model
from lamella.optimizers import optimizer_from_config
from lamella.utils.io_utils import ask_to_proceed_with_overwrite

__all__ = [
    "Layer",
    "Merge",
    "Model",
    "Node",
    "Sequential",
    "ask_to_proceed_with_overwrite",
    "get_source_inputs",
    "load_model",
    "model_from_config",
    "model_from_json",
    "model_from_yaml",
    "optimizer_from_config",
    "save_model",
]
