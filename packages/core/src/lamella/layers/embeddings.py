"""Keras 1's ``Embedding``: integer indices (words) to dense vectors (rows of W)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.layers.core import (
    _activation_name,
    _invalid,
    _is_size,
    _positive_int,
    _serialize,
)


class Embedding(Layer):
    """Looks up row ``x`` of W (input_dim, output_dim) for every index: (b, len) -> (b, len, n).

    ``mask_zero`` makes index 0 padding: a mask ``x != 0`` travels to the layers
    after it, so 0 cannot be a real word.  ``dropout`` drops whole rows of W (every
    occurrence of a word at once) while training, scaling the kept rows by 1/(1-p).
    """

    default_input_dtype = "int64"

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        init: Any = "uniform",
        input_length: int | None = None,
        W_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        mask_zero: bool = False,
        weights: list[Any] | None = None,
        dropout: float = 0.0,
        **kwargs: Any,
    ):
        from lamella import constraints, initializers, regularizers

        shaped = "input_shape" in kwargs or "batch_input_shape" in kwargs
        if not shaped and _is_size(input_length):
            # As in Keras 1: an Embedding can start a Sequential without input_length.
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = _positive_int(self, "input_dim", input_dim)
        self.output_dim = _positive_int(self, "output_dim", output_dim)
        if input_length is not None:
            _positive_int(self, "input_length", input_length)
        if not 0.0 <= dropout < 1.0:
            raise _invalid(self, "dropout", "a fraction in [0, 1)", dropout)
        self.input_length = input_length
        self.init = initializers.get(init)
        self.W_regularizer = regularizers.get(W_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.W_constraint = constraints.get(W_constraint)
        self.mask_zero = bool(mask_zero)
        self.dropout = dropout
        self.uses_learning_phase = dropout > 0.0
        self.input_spec = [InputSpec(ndim="2+")]
        self._initial_weights = weights

    def build(self, input_shape: Shape) -> None:
        self.W = self.add_weight(
            (self.input_dim, self.output_dim),
            self.init,
            name="W",
            regularizer=self.W_regularizer,
            constraint=self.W_constraint,
        )

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        length = input_shape[1]
        if self.input_length is not None and length not in (None, self.input_length):
            raise ValueError(
                f"Embedding {self.name}: input_length is {self.input_length}, but the input "
                f"has shape {input_shape}"
            )
        return (input_shape[0], length or self.input_length, *input_shape[2:], self.output_dim)

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return self.mask_zero

    def compute_mask(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor | None:
        return x != 0 if self.mask_zero else None

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        W = self.W
        if self.training and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            rows = torch.empty(self.input_dim, 1, dtype=W.dtype, device=W.device)
            W = W * (rows.bernoulli_(keep) / keep)
        indices = x.long()
        try:
            return F.embedding(indices, W)
        except (IndexError, RuntimeError) as error:  # torch names neither layer nor index
            # Read only after a failed lookup: the fast path never waits for the device.
            outside = indices[(indices < 0) | (indices >= self.input_dim)]
            if not outside.numel():
                raise
            raise self._out_of_range(int(outside[0]), "its input") from error

    def check_input_data(self, indices: torch.Tensor, what: str) -> None:
        """Refuse out-of-range indices in a model's whole input array, once per call,
        before any batch runs (``fit`` and ``predict`` call this for an Embedding fed
        straight from an input)."""
        if not indices.numel():
            return
        low, high = (int(v) for v in torch.aminmax(indices))
        if low < 0 or high >= self.input_dim:
            raise self._out_of_range(low if low < 0 else high, what)

    def _out_of_range(self, index: int, where: str) -> IndexError:
        return IndexError(
            f"Embedding {self.name}: {where} holds index {index}, out of range: input_dim is "
            f"{self.input_dim}, so indices must be in [0, {self.input_dim - 1}] (input_dim is "
            "the vocabulary size, the largest index + 1)"
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "init": _activation_name(self.init),
            "input_length": self.input_length,
            "W_regularizer": _serialize(self.W_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "W_constraint": _serialize(self.W_constraint),
            "mask_zero": self.mask_zero,
            "dropout": self.dropout,
        }
