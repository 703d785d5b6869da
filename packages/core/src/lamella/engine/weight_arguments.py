"""Keras 1's weight arguments, read, used and written back in one place.

Dense, the convolutions, the recurrent layers and Embedding all take ``init`` (and
``inner_init`` ...), a ``<weight>_regularizer`` and ``<weight>_constraint`` per weight,
``activity_regularizer``, ``bias`` and ``weights``.  :class:`WeightArguments` resolves
them by their Keras names (``W_regularizer='l2'`` becomes a regularizer), hands each
weight its own regularizer and constraint when it is created, and writes them back to
the config as Keras does: initializers by name, regularizers and constraints as their
config dicts.  A plugin's layer that takes the same arguments uses it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from lamella.engine.topology import Layer

    _LayerBase = Layer
else:
    _LayerBase = object

__all__ = ["WeightArguments", "config_of", "function_name"]


def function_name(fn: Any) -> str:
    """The name a config stores for an initializer or activation: its ``__name__``, or
    the class name of a callable object."""
    return getattr(fn, "__name__", type(fn).__name__)


def config_of(obj: Any) -> Any:
    """A regularizer or constraint as the dict a config stores (None stays None)."""
    return obj.get_config() if obj is not None else None


def _kind(arg: str) -> str:
    """Which kind of object the weight argument ``arg`` names, from its Keras name."""
    if arg == "init" or arg.endswith("_init"):
        return "initializer"
    if arg.endswith("_regularizer"):
        return "regularizer"
    if arg.endswith("_constraint"):
        return "constraint"
    raise TypeError(
        f"{arg!r} is not a weight argument: expected init, <name>_init, "
        "<weight>_regularizer or <weight>_constraint"
    )


def _resolver(kind: str) -> Callable[[Any], Any]:
    from lamella import constraints, initializers, regularizers

    return {
        "initializer": initializers.get,
        "regularizer": regularizers.get,
        "constraint": constraints.get,
    }[kind]


class WeightArguments(_LayerBase):
    """A mixin for layers (``class MyLayer(WeightArguments, Layer)``) that take Keras 1's
    weight arguments.

    The weight named ``W`` takes its regularizer and constraint from the attributes
    ``W_regularizer`` and ``W_constraint`` (a layer without one has None), as Keras 1
    names them.
    """

    def set_weight_arguments(
        self, *, weights: Sequence[Any] | None = None, bias: bool | None = None, **arguments: Any
    ) -> None:
        """Resolve and store each argument under its own name (``self.W_regularizer``).

        ``weights`` (initial values for after ``build``) and ``bias`` (whether there is
        a bias) are stored only when given.
        """
        for arg, value in arguments.items():
            setattr(self, arg, _resolver(_kind(arg))(value))
        if bias is not None:
            self.bias = bias
        if weights is not None:
            self._initial_weights = weights

    def weight_config(self, *args: str) -> dict[str, Any]:
        """The config entries of these weight arguments, in this order."""
        config: dict[str, Any] = {}
        for arg in args:
            value = getattr(self, arg)
            if arg == "bias":
                config[arg] = value
            elif _kind(arg) == "initializer":
                config[arg] = function_name(value)
            else:
                config[arg] = config_of(value)
        return config

    def add_keras_weight(
        self, shape: Sequence[int], initializer: Any, name: str, arguments: str | None = None
    ) -> torch.Tensor:
        """``add_weight`` with the regularizer and constraint of the weight's arguments:
        ``<arguments>_regularizer`` and ``<arguments>_constraint`` (``arguments`` defaults
        to ``name``; Keras 1's SeparableConvolution2D names its kernel
        ``depthwise_kernel`` and the arguments ``depthwise_regularizer``)."""
        prefix = arguments or name
        return self.add_weight(
            shape,
            initializer,
            name=name,
            regularizer=getattr(self, f"{prefix}_regularizer", None),
            constraint=getattr(self, f"{prefix}_constraint", None),
        )

    def add_bias(
        self, shape: Sequence[int], name: str = "b", initializer: Any = "zero"
    ) -> torch.Tensor | None:
        """The bias ``b`` (zeros, with ``b_regularizer`` and ``b_constraint``), or None
        when the layer was made with ``bias=False``."""
        if not self.bias:
            return None
        return self.add_keras_weight(shape, initializer, name, arguments="b")
