"""Keras 2's ``keras.layers.merge``: the merge layers and their functional forms, over Keras
1's ``Merge`` (lamella.engine.merge)."""

from lamella.engine.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Merge,
    Multiply,
    add,
    average,
    concatenate,
    dot,
    maximum,
    merge,
    multiply,
)

__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Merge",
    "Multiply",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "merge",
    "multiply",
]
