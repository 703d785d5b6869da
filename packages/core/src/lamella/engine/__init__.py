"""The engine: layers, the symbolic graph, models and the training loop."""

from lamella.engine.container import Container
from lamella.engine.merge import Merge, merge
from lamella.engine.optimizer import Optimizer, TorchOptimizer
from lamella.engine.sequential import Sequential
from lamella.engine.topology import (
    Input,
    InputLayer,
    InputSpec,
    KerasTensor,
    Layer,
    Node,
    get_source_inputs,
)
from lamella.engine.training import Model

__all__ = [
    "Container",
    "Input",
    "InputLayer",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Merge",
    "Model",
    "Node",
    "Optimizer",
    "Sequential",
    "TorchOptimizer",
    "get_source_inputs",
    "merge",
]
