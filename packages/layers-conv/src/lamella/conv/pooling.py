"""Keras 1's pooling layers: windowed max/average pooling and global pooling.

Windowed pooling uses ``torch.nn.functional.max_pool*``/``avg_pool*`` on a channels-first
view of the input (see ``spatial``).  ``border_mode='same'`` pads as TensorFlow does,
the odd cell at the end; padded cells never win a max, and an average counts only the
cells inside the input (``count_include_pad=False``), as Keras's TensorFlow backend does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamella.conv.spatial import (
    Pads,
    SpatialLayer,
    border_padding,
    pad_input,
    torch_pad,
    window_output,
)
from lamella.engine.topology import Shape
from lamella.utils.arguments import check_one_of, int_tuple

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def max_pool(
    x: torch.Tensor, size: tuple[int, ...], strides: tuple[int, ...], pads: Pads
) -> torch.Tensor:
    """Max over each window of a channels-first ``x``; padding never wins (-inf)."""
    x, padding = pad_input(x, pads, value=float("-inf"))
    return _MAX[len(size)](x, size, strides, padding)


def average_pool(
    x: torch.Tensor, size: tuple[int, ...], strides: tuple[int, ...], pads: Pads
) -> torch.Tensor:
    """Mean over the cells of each window that lie inside ``x`` (channels first)."""
    pool = _AVG[len(size)]
    if all(before == after for before, after in pads):
        padding = tuple(before for before, _ in pads)
        return pool(x, size, strides, padding, count_include_pad=False)
    # Asymmetric padding, which torch's op cannot do: average over the zero-padded input,
    # then rescale by the share of each window that lies inside the input.
    inside = F.pad(x.new_ones((1, 1, *x.shape[2:])), torch_pad(pads))
    return pool(F.pad(x, torch_pad(pads)), size, strides) / pool(inside, size, strides)


class _Pooling(SpatialLayer):
    """Pools windows of ``pool_size`` cells every ``strides`` cells with ``reduce``.

    Subclasses give ``rank``, ``reduce`` (``max_pool`` or ``average_pool``) and Keras's
    names for the window (``size_name``) and stride (``stride_name``) arguments.
    """

    reduce: Callable[..., torch.Tensor]
    size_name: str
    stride_name: str

    def __init__(
        self,
        pool_size: Any,
        strides: Any,
        border_mode: str,
        dim_ordering: str | None,
        **kwargs: Any,
    ):
        super().__init__(dim_ordering, **kwargs)
        self.pool_size = int_tuple(self, self.size_name, pool_size, self.rank)
        self.strides = (
            self.pool_size
            if strides is None
            else int_tuple(self, self.stride_name, strides, self.rank)
        )
        self.border_mode = check_one_of(self, "border_mode", border_mode, ("valid", "same"))

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        sizes = window_output(
            self, self.spatial_sizes(input_shape), self.pool_size, self.border_mode, self.strides
        )
        return self.shape_with(input_shape, sizes)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        x = self.channels_first(x)
        pads = [
            border_padding(n, k, self.border_mode, s)
            for n, k, s in zip(x.shape[2:], self.pool_size, self.strides, strict=True)
        ]
        return self.restore(self.reduce(x, self.pool_size, self.strides, pads))

    def get_config(self) -> dict[str, Any]:
        one = self.rank == 1
        return {
            **super().get_config(),
            self.size_name: self.pool_size[0] if one else self.pool_size,
            self.stride_name: self.strides[0] if one else self.strides,
            "border_mode": self.border_mode,
        }


class _Pooling1D(_Pooling):
    """Pools steps of (batch, steps, features); ``stride=None`` means ``pool_length``."""

    rank = 1
    size_name = "pool_length"
    stride_name = "stride"

    def __init__(
        self,
        pool_length: int = 2,
        stride: int | None = None,
        border_mode: str = "valid",
        **kwargs: Any,
    ):
        super().__init__(pool_length, stride, border_mode, None, **kwargs)


class _Pooling2D(_Pooling):
    """Pools rows and columns; ``strides=None`` means ``pool_size``."""

    rank = 2
    size_name = "pool_size"
    stride_name = "strides"

    def __init__(
        self,
        pool_size: Sequence[int] = (2, 2),
        strides: Sequence[int] | None = None,
        border_mode: str = "valid",
        dim_ordering: str = "default",
        **kwargs: Any,
    ):
        super().__init__(pool_size, strides, border_mode, dim_ordering, **kwargs)


class _Pooling3D(_Pooling):
    """Pools three spatial axes; ``strides=None`` means ``pool_size``."""

    rank = 3
    size_name = "pool_size"
    stride_name = "strides"

    def __init__(
        self,
        pool_size: Sequence[int] = (2, 2, 2),
        strides: Sequence[int] | None = None,
        border_mode: str = "valid",
        dim_ordering: str = "default",
        **kwargs: Any,
    ):
        super().__init__(pool_size, strides, border_mode, dim_ordering, **kwargs)


class MaxPooling1D(_Pooling1D):
    """The largest value of each window of steps.

    Args:
        pool_length: The window's length in steps (default 2).
        stride: How many steps the window moves each time (default None:
            ``pool_length``, windows side by side).
        border_mode: ``'valid'`` (the default: only windows that fit) or
            ``'same'`` (``ceil(size / stride)`` windows, the input padded as
            TensorFlow pads; padded cells never win).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, new_steps, features)``.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid' and ``n`` for 'same' (``n`` the input size, ``k`` the window size).
    """

    reduce = staticmethod(max_pool)


class AveragePooling1D(_Pooling1D):
    """The mean of each window of steps.

    Args:
        pool_length: The window's length in steps (default 2).
        stride: How many steps the window moves each time (default None:
            ``pool_length``, windows side by side).
        border_mode: ``'valid'`` (the default: only windows that fit) or
            ``'same'`` (``ceil(size / stride)`` windows, the input padded as
            TensorFlow pads; an average counts only the cells inside the input).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, new_steps, features)``.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid' and ``n`` for 'same' (``n`` the input size, ``k`` the window size).
    """

    reduce = staticmethod(average_pool)


class MaxPooling2D(_Pooling2D):
    """The largest value of each window of rows x columns.

    Args:
        pool_size: The window's size along rows and columns; one int stands for
            both (default ``(2, 2)``).
        strides: How many cells the window moves each time along each axis
            (default None: ``pool_size``, windows side by side).
        border_mode: ``'valid'`` (the default: only windows that fit) or
            ``'same'`` (``ceil(size / stride)`` windows, the input padded as
            TensorFlow pads; padded cells never win).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        The input shape with each spatial size ``n`` replaced by its new size.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid' and ``n`` for 'same' (``n`` the input size, ``k`` the window size).
    """

    reduce = staticmethod(max_pool)


class AveragePooling2D(_Pooling2D):
    """The mean of each window of rows x columns.

    Args:
        pool_size: The window's size along rows and columns; one int stands for
            both (default ``(2, 2)``).
        strides: How many cells the window moves each time along each axis
            (default None: ``pool_size``, windows side by side).
        border_mode: ``'valid'`` (the default: only windows that fit) or
            ``'same'`` (``ceil(size / stride)`` windows, the input padded as
            TensorFlow pads; an average counts only the cells inside the input).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        The input shape with each spatial size ``n`` replaced by its new size.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid' and ``n`` for 'same' (``n`` the input size, ``k`` the window size).
    """

    reduce = staticmethod(average_pool)


class MaxPooling3D(_Pooling3D):
    """The largest value of each 3D window.

    Args:
        pool_size: The window's size along each of the three spatial axes; one int stands
            for all (default ``(2, 2, 2)``).
        strides: How many cells the window moves each time along each axis
            (default None: ``pool_size``, windows side by side).
        border_mode: ``'valid'`` (the default: only windows that fit) or
            ``'same'`` (``ceil(size / stride)`` windows, the input padded as
            TensorFlow pads; padded cells never win).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        The input shape with each spatial size ``n`` replaced by its new size.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid' and ``n`` for 'same' (``n`` the input size, ``k`` the window size).
    """

    reduce = staticmethod(max_pool)


class AveragePooling3D(_Pooling3D):
    """The mean of each 3D window.

    Args:
        pool_size: The window's size along each of the three spatial axes; one int stands
            for all (default ``(2, 2, 2)``).
        strides: How many cells the window moves each time along each axis
            (default None: ``pool_size``, windows side by side).
        border_mode: ``'valid'`` (the default: only windows that fit) or
            ``'same'`` (``ceil(size / stride)`` windows, the input padded as
            TensorFlow pads; an average counts only the cells inside the input).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        The input shape with each spatial size ``n`` replaced by its new size.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid' and ``n`` for 'same' (``n`` the input size, ``k`` the window size).
    """

    reduce = staticmethod(average_pool)


# -- global pooling ------------------------------------------------------------------------


def _global_max(x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    return x.amax(dim=axes)


def _global_mean(x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    return x.mean(dim=axes)


class _GlobalPooling(SpatialLayer):
    """Reduces every spatial axis away: (batch, channels), whatever the ordering."""

    reduce: Callable[..., torch.Tensor]

    def __init__(self, dim_ordering: str | None = "default", **kwargs: Any):
        super().__init__(dim_ordering, **kwargs)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (input_shape[0], input_shape[self.channel_axis])

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.reduce(x, tuple(self.spatial_axes))


class _GlobalPooling1D(_GlobalPooling):
    """Over the steps of (batch, steps, features): Keras's 1D layers take no dim_ordering."""

    rank = 1

    def __init__(self, **kwargs: Any):
        super().__init__(None, **kwargs)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The largest value of each feature over all steps.

    Args:
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, features)``.
    """

    reduce = staticmethod(_global_max)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean of each feature over all steps.

    Args:
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, features)``.
    """

    reduce = staticmethod(_global_mean)


class GlobalMaxPooling2D(_GlobalPooling):
    """The largest value of each channel over the image.

    Args:
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        ``(batch, channels)``.
    """

    rank = 2
    reduce = staticmethod(_global_max)


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean of each channel over the image.

    Args:
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        ``(batch, channels)``.
    """

    rank = 2
    reduce = staticmethod(_global_mean)


class GlobalMaxPooling3D(_GlobalPooling):
    """The largest value of each channel over the volume.

    Args:
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        ``(batch, channels)``.
    """

    rank = 3
    reduce = staticmethod(_global_max)


class GlobalAveragePooling3D(_GlobalPooling):
    """The mean of each channel over the volume.

    Args:
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        ``(batch, channels)``.
    """

    rank = 3
    reduce = staticmethod(_global_mean)
