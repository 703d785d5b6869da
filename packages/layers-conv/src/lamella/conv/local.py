"""Keras 1's locally connected layers: convolutions whose filters differ at every position.

Weights follow Keras 1 exactly.  ``W`` is ``(positions, window features, nb_filter)`` with
positions in row-major order, and the window features of one position ordered as Keras
flattens a patch of its input: (steps, features) for 1D, (channels, rows, cols) for 'th'
and (rows, cols, channels) for 'tf'.  ``b`` is ``(out_steps, nb_filter)`` or
``(out_rows, out_cols, nb_filter)``; Keras 1 adds that array to 'th' outputs reshaped, not
transposed, to ``(nb_filter, out_rows, out_cols)``, and so does this layer, so that weights
trained by Keras give Keras's outputs.

Patches come from ``Tensor.unfold`` (views) and meet their weights in one batched product.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lamella.conv.convolutional import (
    _Convolution,
    _Convolution1DArguments,
    _Convolution2DArguments,
)
from lamella.conv.spatial import window_output
from lamella.engine.topology import Shape


class _LocallyConnected(_Convolution):
    """A 'valid' convolution with one filter bank per output position (N-d)."""

    border_modes = ("valid",)

    def build(self, input_shape: Shape) -> None:
        channels = self.channels(input_shape)
        sizes = self.known_sizes(input_shape)  # one weight matrix per output position
        self.output_sizes = window_output(
            self, sizes, self.kernel_size, self.border_mode, self.strides
        )
        positions = math.prod(self.output_sizes)
        features = math.prod(self.kernel_size) * channels
        self.W = self.add_keras_weight((positions, features, self.nb_filter), self.init, "W")
        self._build_bias((*self.output_sizes, self.nb_filter))

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, positions, window features), features in Keras's order for the ordering."""
        for axis, size, stride in zip(
            self.spatial_axes, self.kernel_size, self.strides, strict=True
        ):
            x = x.unfold(axis, size, stride)  # the window becomes a new last axis
        n = self.rank
        outputs, windows = list(range(1, n + 1)), list(range(n + 2, 2 * n + 2))
        if self.channels_last:  # (b, *out, ch, *window) -> (b, *out, *window, ch)
            x = x.permute(0, *outputs, *windows, n + 1)
        else:  # (b, ch, *out, *window) -> (b, *out, ch, *window)
            x = x.permute(0, *(a + 1 for a in outputs), 1, *windows)
        return x.reshape(x.shape[0], math.prod(self.output_sizes), -1)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        y = torch.einsum("bpf,pfn->bpn", self._patches(x), self.W)
        y = y.reshape(x.shape[0], *self.output_sizes, self.nb_filter)
        if not self.channels_last:
            y = y.movedim(-1, 1)
        if self.b is not None:
            y = y + self.b.reshape(y.shape[1:])  # Keras 1's reshape, also for 'th'
        return self.activation(y)


class LocallyConnected1D(_LocallyConnected, _Convolution1DArguments):
    """Unshared-weight convolution over the steps of (batch, steps, input_dim) sequences.

    Like Convolution1D, but each output step has filters of its own, so the
    number of steps must be known when the layer is built.

    Args:
        nb_filter: The number of filters at each position: the size of the
            output's feature axis.
        filter_length: The length of each window, in steps.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) in the
            layouts above.
        border_mode: Only ``'valid'`` (the default): every window lies inside
            the input.
        subsample_length: How many steps the window moves each time (default 1).
        W_regularizer: A penalty on W added to the training loss (``l2(0.01)``,
            a name or a config), or None.
        b_regularizer: A penalty on b, or None.
        activity_regularizer: A penalty on the layer's output, or None.
        W_constraint: A constraint applied to W after each update
            (``maxnorm(2)``), or None.
        b_constraint: A constraint on b, or None.
        bias: Whether the layer adds a bias b (default True).
        input_dim: The number of features per step; with ``input_length``, a
            first layer's short way of writing ``input_shape=(input_length,
            input_dim)``.
        input_length: The number of steps.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, input_dim)``, ``steps`` known.

    Output shape:
        ``(batch, new_steps, nb_filter)``.
        Each new size is ``ceil((n - k + 1) / stride)`` (``n`` the input size,
        ``k`` the window size), fixed when the layer is built.
    """


class LocallyConnected2D(_LocallyConnected, _Convolution2DArguments):
    """Unshared-weight convolution over rows and columns of images, 'th' or 'tf'.

    Like Convolution2D, but each output cell has filters of its own, so the image
    size must be known when the layer is built.

    Args:
        nb_filter: The number of filters at each position: the number of output
            channels.
        nb_row: The number of rows of each window.
        nb_col: The number of columns of each window.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) in the
            layouts above.
        border_mode: Only ``'valid'`` (the default): every window lies inside
            the input.
        subsample: The strides along rows and columns (default ``(1, 1)``).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        W_regularizer: A penalty on W added to the training loss (``l2(0.01)``,
            a name or a config), or None.
        b_regularizer: A penalty on b, or None.
        activity_regularizer: A penalty on the layer's output, or None.
        W_constraint: A constraint applied to W after each update
            (``maxnorm(2)``), or None.
        b_constraint: A constraint on b, or None.
        bias: Whether the layer adds a bias b (default True).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'; rows and columns known.

    Output shape:
        ``(batch, nb_filter, new_rows, new_cols)`` for 'th', ``(batch, new_rows,
        new_cols, nb_filter)`` for 'tf'.
        Each new size is ``ceil((n - k + 1) / stride)`` (``n`` the input size,
        ``k`` the window size), fixed when the layer is built.
    """
