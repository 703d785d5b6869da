"""Keras 1's ``Embedding``: integer indices (words) to dense vectors (rows of W)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.engine.weight_arguments import WeightArguments
from lamella.utils.arguments import check_fraction, check_int, is_size


class Embedding(WeightArguments, Layer):
    """Looks up row ``x`` of W (input_dim, output_dim) for every index: (b, len) -> (b, len, n).

    ``mask_zero`` makes index 0 padding: a mask ``x != 0`` travels to the layers
    after it, so 0 cannot be a real word.  ``dropout`` drops whole rows of W (every
    occurrence of a word at once) while training, scaling the kept rows by 1/(1-p).

    Args:
        input_dim: The vocabulary size, the largest index + 1; indices must lie
            in ``[0, input_dim)``.
        output_dim: The size of each vector.
        init: How W is initialized: a registered initializer name (default
            ``'uniform'``) or a function of a shape.
        input_length: The length of the input sequences, when it is fixed; it
            fixes the input shape, which a ``Flatten`` and ``Dense`` after the
            layer need (default None: any length).
        W_regularizer: A penalty on W added to the training loss, or None.
        activity_regularizer: A penalty on the layer's output, or None.
        W_constraint: A constraint applied to W after each update, or None.
        mask_zero: Whether index 0 is padding, masked for the layers after it
            (default False); each of them must accept a mask. Index 0 then
            stands for no word, and ``input_dim`` still counts it.
        weights: Initial values ``[W]``, a numpy array of shape
            ``(input_dim, output_dim)`` (pretrained word vectors), used instead of
            ``init``.
        dropout: The fraction of W's rows dropped while training, in [0, 1)
            (default 0.0: none).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, length)`` of integer indices (or more axes of them).

    Output shape:
        ``(batch, length, output_dim)``: one vector in place of each index.
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
        shaped = "input_shape" in kwargs or "batch_input_shape" in kwargs
        if not shaped and is_size(input_length):
            # As in Keras 1: an Embedding can start a Sequential without input_length.
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = check_int(self, "input_dim", input_dim)
        self.output_dim = check_int(self, "output_dim", output_dim)
        if input_length is not None:
            check_int(self, "input_length", input_length)
        check_fraction(self, "dropout", dropout)
        self.input_length = input_length
        self.set_weight_arguments(
            weights=weights,
            init=init,
            W_regularizer=W_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
        )
        self.mask_zero = bool(mask_zero)
        self.dropout = dropout
        self.uses_learning_phase = dropout > 0.0
        self.input_spec = [InputSpec(ndim="2+")]

    def build(self, input_shape: Shape) -> None:
        self.W = self.add_keras_weight((self.input_dim, self.output_dim), self.init, "W")

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
            **self.weight_config("init"),
            "input_length": self.input_length,
            **self.weight_config("W_regularizer", "activity_regularizer", "W_constraint"),
            "mask_zero": self.mask_zero,
            "dropout": self.dropout,
        }
