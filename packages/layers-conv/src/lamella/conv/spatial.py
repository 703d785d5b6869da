"""Geometry shared by the convolution, pooling, padding and locally connected layers.

Keras 1 image layers take one of two orderings: 'th' puts channels at axis 1 (torch's own
layout), 'tf' puts them last.  1D layers always take ``(batch, steps, features)``, which is
channels last.  Every layer here computes on a channels-first *view* of its input
(``movedim``: no copy) and moves the result back the same way, so a 'tf' model costs no
transposes: torch sees channels-last strides and picks its channels-last kernels.

Output lengths follow Keras 1: ``ceil(L_eff / stride)`` with ``L_eff = L - k + 1`` ('valid'),
``L`` ('same') or ``L + k - 1`` ('full'), ``k`` dilated for atrous kernels.  'same' pads as
TensorFlow does, so even kernels and strides get the odd cell of padding at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.utils.arguments import check_dim_ordering

Pads = list[tuple[int, int]]


def sequence_input(kwargs: dict[str, Any], input_dim: int | None, input_length: int | None) -> None:
    """Keras 1's 1D shortcut: ``input_dim``/``input_length`` stand for ``input_shape``."""
    if input_dim and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
        kwargs["input_shape"] = (input_length, input_dim)


def dilated(kernel: int, dilation: int) -> int:
    return kernel + (kernel - 1) * (dilation - 1)


def output_length(
    length: int | None, kernel: int, border_mode: str, stride: int, dilation: int = 1
) -> int | None:
    """Keras 1's ``conv_output_length``: ``ceil(L_eff / stride)``; None stays None."""
    if length is None:
        return None
    span = dilated(kernel, dilation)
    effective = {"valid": length - span + 1, "same": length, "full": length + span - 1}
    return -(-effective[border_mode] // stride)


def border_padding(
    length: int, kernel: int, border_mode: str, stride: int, dilation: int = 1
) -> tuple[int, int]:
    """Cells of padding (before, after) one axis needs for ``border_mode``.

    'same' pads what TensorFlow pads: just enough for ``ceil(L / stride)`` outputs, the
    odd cell at the end, so an even kernel or a stride gives asymmetric padding.
    """
    span = dilated(kernel, dilation)
    if border_mode == "valid":
        return (0, 0)
    if border_mode == "full":
        return (span - 1, span - 1)
    total = max((-(-length // stride) - 1) * stride + span - length, 0)
    return (total // 2, total - total // 2)


def torch_pad(pads: Pads) -> list[int]:
    """(before, after) per axis, first axis first, as ``F.pad`` wants them: last axis first."""
    return [amount for pair in reversed(pads) for amount in pair]


def pad_input(
    x: torch.Tensor, pads: Pads, value: float = 0.0
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``x`` (channels first) and the symmetric padding left for torch's op to apply.

    Symmetric padding is left to the op (no copy); asymmetric padding is applied here.
    """
    if all(before == after for before, after in pads):
        return x, tuple(before for before, _ in pads)
    return F.pad(x, torch_pad(pads), value=value), (0,) * len(pads)


class SpatialLayer(Layer):
    """A layer over ``rank`` spatial axes and one channel axis placed by ``dim_ordering``.

    ``dim_ordering=None`` is for 1D layers, which have no such argument and are channels
    last; 'default' reads ``image_dim_ordering()`` now, at construction, as Keras 1 does.
    """

    rank: int

    def __init__(self, dim_ordering: str | None, **kwargs: Any):
        super().__init__(**kwargs)
        if self.rank > 1 or dim_ordering == "default":
            dim_ordering = check_dim_ordering(self, dim_ordering)
        self.dim_ordering = dim_ordering
        self.channels_last = self.rank == 1 or dim_ordering == "tf"
        self.input_spec = [InputSpec(ndim=self.rank + 2)]

    @property
    def spatial_axes(self) -> range:
        first = 1 if self.channels_last else 2
        return range(first, first + self.rank)

    @property
    def channel_axis(self) -> int:
        return self.rank + 1 if self.channels_last else 1

    def spatial_sizes(self, shape: Shape) -> tuple[int | None, ...]:
        return tuple(shape[axis] for axis in self.spatial_axes)

    def known_sizes(self, shape: Shape) -> tuple[int, ...]:
        """The spatial sizes of ``shape``, which this layer needs to know."""
        sizes = self.spatial_sizes(shape)
        if any(size is None for size in sizes):
            raise ValueError(
                f"{type(self).__name__} {self.name}: needs the spatial sizes of its input, "
                f"got shape {tuple(shape)}; give the first layer a full input_shape"
            )
        return sizes  # type: ignore[return-value]

    def channels(self, shape: Shape) -> int:
        """The channel count of ``shape``, which weighted layers need to know."""
        count = shape[self.channel_axis]
        if count is None:
            raise ValueError(
                f"{type(self).__name__} {self.name}: the channel axis ({self.channel_axis}) "
                f"of the input must be known, got shape {tuple(shape)}"
            )
        return int(count)

    def shape_with(
        self, shape: Shape, sizes: Sequence[int | None], channels: int | None = None
    ) -> Shape:
        """``shape`` with new spatial sizes (and channel count, if given)."""
        if channels is None:
            channels = shape[self.channel_axis]
        if self.channels_last:
            return (shape[0], *sizes, channels)
        return (shape[0], channels, *sizes)

    def channels_first(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as (batch, channels, *spatial): a view, free for 'tf' inputs."""
        return x.movedim(-1, 1) if self.channels_last else x

    def restore(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse view of :meth:`channels_first`, back to the layer's ordering."""
        return y.movedim(1, -1) if self.channels_last else y

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.rank > 1:
            config["dim_ordering"] = self.dim_ordering
        return config


def too_small(layer: Layer, sizes: Sequence[int | None], window: str) -> ValueError:
    return ValueError(
        f"{type(layer).__name__} {layer.name}: input spatial size "
        f"{tuple(sizes)} is too small for {window}"
    )


def window_output(
    layer: Layer,
    sizes: Sequence[int | None],
    kernel: Sequence[int],
    border_mode: str,
    strides: Sequence[int],
    dilation: Sequence[int] | None = None,
) -> tuple[int | None, ...]:
    """Output sizes of a sliding window; an error, not an empty output, where none fits."""
    dilation = dilation or (1,) * len(kernel)
    out = tuple(
        output_length(n, k, border_mode, s, d)
        for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True)
    )
    if any(o is not None and o < 1 for o in out):
        spans = tuple(dilated(k, d) for k, d in zip(kernel, dilation, strict=True))
        raise too_small(layer, sizes, f"a window of {spans} with border_mode {border_mode!r}")
    return out
