"""Keras 1's convolution and pooling functions (``K.conv2d``, ``K.pool2d`` ...).

Kernels come in Keras 1's layouts, so weights made for Keras's backend work unchanged:
'th' ``(out, in, *kernel)`` (torch's own), 'tf' ``(*kernel, in, out)``; ``conv1d`` takes
``(length, in, out)`` on ``(batch, steps, in)`` inputs. The maths is a cross-correlation, the
kernel orientation of Keras's TensorFlow backend (Theano's backend flipped kernels: flip a
Theano-trained kernel before use, as in Keras).

'same' pads as TensorFlow does: just enough for ``ceil(size / stride)`` outputs, the odd cell
at the end, so even kernels and strides pad asymmetrically. 'same' average pooling divides by
the number of input cells in each window, not counting the padding (TensorFlow's rule).
'tf' inputs are handed to torch as channels-first views with channels-last strides, so they
cost no copy.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamella.backend.ops import TensorLike, _ordering, _tensor

__all__ = [
    "atrous_conv2d",
    "conv1d",
    "conv2d",
    "conv3d",
    "deconv2d",
    "pool2d",
    "pool3d",
    "separable_conv2d",
]

Pads = list[tuple[int, int]]
_CONVOLVE: dict[int, Callable[..., torch.Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_POOL: dict[int, Callable[..., torch.Tensor]] = {2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL: dict[int, Callable[..., torch.Tensor]] = {2: F.avg_pool2d, 3: F.avg_pool3d}


# --------------------------------------------------------------------------------------------
# Arguments


def _ints(fn: str, arg: str, value: Any, rank: int) -> tuple[int, ...]:
    """``rank`` positive ints; one int stands for every axis."""
    items = (value,) * rank if isinstance(value, numbers.Integral) else value
    if (
        isinstance(items, Sequence)
        and not isinstance(items, str)
        and len(items) == rank
        and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in items
        )
    ):
        return tuple(int(v) for v in items)
    raise ValueError(f"{fn}: {arg} must be a positive int or a tuple of {rank}, got {value!r}")


def _border_mode(fn: str, border_mode: Any, allowed: Sequence[str]) -> str:
    if border_mode not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{fn}: border_mode must be one of {options}, got {border_mode!r}")
    return border_mode


def _input(fn: str, x: Any, rank: int) -> torch.Tensor:
    x = _tensor(fn, x)
    if x.ndim != rank + 2:
        raise ValueError(f"{fn}: x must be a {rank + 2}D tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{fn}: x must be a floating tensor, got dtype {x.dtype}")
    return x


def _kernel(fn: str, arg: str, kernel: Any, x: torch.Tensor, ndim: int) -> torch.Tensor:
    kernel = _tensor(fn, kernel, like=x)
    if kernel.ndim != ndim:
        raise ValueError(f"{fn}: {arg} must be a {ndim}D tensor, got shape {tuple(kernel.shape)}")
    # Under autocast (mixed precision) torch's ops cast both operands themselves.
    if kernel.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(f"{fn}: {arg} has dtype {kernel.dtype} but x has dtype {x.dtype}")
    return kernel


def _channels_first(x: torch.Tensor, ordering: str) -> torch.Tensor:
    """A 'tf' (channels-last) input as a channels-first view; 'th' is already torch's."""
    return x if ordering == "th" else torch.movedim(x, -1, 1)


def _restore(y: torch.Tensor, ordering: str) -> torch.Tensor:
    return y if ordering == "th" else torch.movedim(y, 1, -1)


def _torch_kernel(kernel: torch.Tensor, ordering: str) -> torch.Tensor:
    """A Keras kernel as torch's ``(out, in, *kernel)``: 'tf' kernels are permuted views."""
    if ordering == "th":
        return kernel
    return kernel.permute(-1, -2, *range(kernel.ndim - 2))


def _check_channels(fn: str, arg: str, x: torch.Tensor, expected: int) -> None:
    """``x`` is channels first here."""
    if x.shape[1] != expected:
        raise ValueError(f"{fn}: {arg} expects {expected} input channels, but x has {x.shape[1]}")


# --------------------------------------------------------------------------------------------
# Geometry


def _span(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def _padding(
    size: int, kernel: int, border_mode: str, stride: int, dilation: int = 1
) -> tuple[int, int]:
    """Cells (before, after) one axis is padded with: TensorFlow's 'same', Theano's 'full'."""
    span = _span(kernel, dilation)
    if border_mode == "valid":
        return (0, 0)
    if border_mode == "full":
        return (span - 1, span - 1)
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return (total // 2, total - total // 2)


def _paddings(
    fn: str,
    x: torch.Tensor,
    kernel_size: Sequence[int],
    border_mode: str,
    strides: Sequence[int],
    dilation: Sequence[int],
) -> Pads:
    """The padding of each spatial axis of a channels-first ``x``; checks 'valid' fits."""
    sizes = x.shape[2:]
    for size, k, d in zip(sizes, kernel_size, dilation, strict=True):
        if border_mode == "valid" and _span(k, d) > size:
            raise ValueError(
                f"{fn}: the window (size {tuple(kernel_size)}, dilation {tuple(dilation)}) is "
                f"larger than the input's spatial shape {tuple(sizes)} with border_mode='valid'"
            )
    return [
        _padding(n, k, border_mode, s, d)
        for n, k, s, d in zip(sizes, kernel_size, strides, dilation, strict=True)
    ]


def _torch_pad(pads: Pads) -> list[int]:
    """(before, after) per axis, first axis first, as ``F.pad`` lists them: last axis first."""
    return [amount for pair in reversed(pads) for amount in pair]


def _pad(x: torch.Tensor, pads: Pads, value: float = 0.0) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``x`` padded where torch's ops cannot, and the symmetric padding left for them."""
    if all(before == after for before, after in pads):
        return x, tuple(before for before, _ in pads)
    return F.pad(x, _torch_pad(pads), value=value), (0,) * len(pads)


# --------------------------------------------------------------------------------------------
# Convolutions


def _convolve(
    fn: str,
    x: torch.Tensor,
    kernel: torch.Tensor,
    strides: Sequence[int],
    border_mode: str,
    dilation: Sequence[int],
    groups: int = 1,
) -> torch.Tensor:
    """Cross-correlate a channels-first ``x`` with a torch-layout ``kernel``."""
    _check_channels(fn, "kernel", x, kernel.shape[1] * groups)
    pads = _paddings(fn, x, kernel.shape[2:], border_mode, strides, dilation)
    x, padding = _pad(x, pads)
    rank = kernel.ndim - 2
    return _CONVOLVE[rank](x, kernel, None, tuple(strides), padding, tuple(dilation), groups)


def conv1d(
    x: TensorLike,
    kernel: TensorLike,
    stride: int = 1,
    border_mode: str = "valid",
    image_shape: Any = None,
    filter_shape: Any = None,
) -> torch.Tensor:
    """Convolve ``(batch, steps, in)`` with a ``(length, in, out)`` kernel.

    ``image_shape`` and ``filter_shape`` were hints for Theano and are ignored.
    """
    fn = "conv1d"
    x = _input(fn, x, 1)
    kernel = _kernel(fn, "kernel", kernel, x, 3)
    (stride_,) = _ints(fn, "stride", stride, 1)
    mode = _border_mode(fn, border_mode, ("valid", "same", "full"))
    y = _convolve(fn, _channels_first(x, "tf"), kernel.permute(2, 1, 0), (stride_,), mode, (1,))
    return _restore(y, "tf")


def conv2d(
    x: TensorLike,
    kernel: TensorLike,
    strides: Sequence[int] = (1, 1),
    border_mode: str = "valid",
    dim_ordering: str = "default",
    image_shape: Any = None,
    filter_shape: Any = None,
    filter_dilation: Sequence[int] = (1, 1),
) -> torch.Tensor:
    """2D convolution; 'full' (Theano's) pads ``kernel - 1`` cells on every side.

    ``image_shape`` and ``filter_shape`` were hints for Theano and are ignored.
    """
    fn = "conv2d"
    ordering = _ordering(fn, dim_ordering)
    x = _input(fn, x, 2)
    kernel = _torch_kernel(_kernel(fn, "kernel", kernel, x, 4), ordering)
    mode = _border_mode(fn, border_mode, ("valid", "same", "full"))
    y = _convolve(
        fn,
        _channels_first(x, ordering),
        kernel,
        _ints(fn, "strides", strides, 2),
        mode,
        _ints(fn, "filter_dilation", filter_dilation, 2),
    )
    return _restore(y, ordering)


def conv3d(
    x: TensorLike,
    kernel: TensorLike,
    strides: Sequence[int] = (1, 1, 1),
    border_mode: str = "valid",
    dim_ordering: str = "default",
    volume_shape: Any = None,
    filter_shape: Any = None,
    filter_dilation: Sequence[int] = (1, 1, 1),
) -> torch.Tensor:
    """3D convolution; kernels 'th' ``(out, in, d1, d2, d3)``, 'tf' ``(d1, d2, d3, in, out)``.

    ``volume_shape`` and ``filter_shape`` were hints for Theano and are ignored.
    """
    fn = "conv3d"
    ordering = _ordering(fn, dim_ordering)
    x = _input(fn, x, 3)
    kernel = _torch_kernel(_kernel(fn, "kernel", kernel, x, 5), ordering)
    mode = _border_mode(fn, border_mode, ("valid", "same", "full"))
    y = _convolve(
        fn,
        _channels_first(x, ordering),
        kernel,
        _ints(fn, "strides", strides, 3),
        mode,
        _ints(fn, "filter_dilation", filter_dilation, 3),
    )
    return _restore(y, ordering)


def atrous_conv2d(
    x: TensorLike,
    kernel: TensorLike,
    rate: int = 1,
    border_mode: str = "valid",
    dim_ordering: str = "default",
    image_shape: Any = None,
    filter_shape: Any = None,
) -> torch.Tensor:
    """Dilated 2D convolution: the kernel's taps are ``rate`` cells apart, stride 1."""
    fn = "atrous_conv2d"
    ordering = _ordering(fn, dim_ordering)
    x = _input(fn, x, 2)
    kernel = _torch_kernel(_kernel(fn, "kernel", kernel, x, 4), ordering)
    mode = _border_mode(fn, border_mode, ("valid", "same"))
    dilation = _ints(fn, "rate", rate, 2)
    y = _convolve(fn, _channels_first(x, ordering), kernel, (1, 1), mode, dilation)
    return _restore(y, ordering)


def separable_conv2d(
    x: TensorLike,
    depthwise_kernel: TensorLike,
    pointwise_kernel: TensorLike,
    strides: Sequence[int] = (1, 1),
    border_mode: str = "valid",
    dim_ordering: str = "default",
) -> torch.Tensor:
    """Each input channel convolved on its own, then the results mixed by a 1x1 convolution.

    The depthwise kernel is 'th' ``(multiplier, in, rows, cols)`` or 'tf'
    ``(rows, cols, in, multiplier)``; the pointwise kernel 'th' ``(out, in * multiplier, 1, 1)``
    or 'tf' ``(1, 1, in * multiplier, out)``. Intermediate channel ``c * multiplier + m`` comes
    from input channel ``c`` (TensorFlow's order). Strides and padding apply to the depthwise
    step.
    """
    fn = "separable_conv2d"
    ordering = _ordering(fn, dim_ordering)
    x = _input(fn, x, 2)
    depthwise = _kernel(fn, "depthwise_kernel", depthwise_kernel, x, 4)
    pointwise = _torch_kernel(_kernel(fn, "pointwise_kernel", pointwise_kernel, x, 4), ordering)
    mode = _border_mode(fn, border_mode, ("valid", "same"))
    # To (in, multiplier, rows, cols), then torch's grouped layout (in * multiplier, 1, r, c).
    depthwise = depthwise.permute(1, 0, 2, 3) if ordering == "th" else depthwise.permute(2, 3, 0, 1)
    channels, multiplier = depthwise.shape[:2]
    if tuple(pointwise.shape[1:]) != (channels * multiplier, 1, 1):
        raise ValueError(
            f"separable_conv2d: pointwise_kernel must map {channels * multiplier} channels "
            f"(in {channels} x multiplier {multiplier}) with a 1x1 window, got torch-layout "
            f"shape {tuple(pointwise.shape)}"
        )
    depthwise = depthwise.reshape(channels * multiplier, 1, *depthwise.shape[2:])
    cf = _channels_first(x, ordering)
    strides_ = _ints(fn, "strides", strides, 2)
    y = _convolve(fn, cf, depthwise, strides_, mode, (1, 1), groups=channels)
    return _restore(F.conv2d(y, pointwise), ordering)


def deconv2d(
    x: TensorLike,
    kernel: TensorLike,
    output_shape: Sequence[int | None],
    strides: Sequence[int] = (1, 1),
    border_mode: str = "valid",
    dim_ordering: str = "default",
    image_shape: Any = None,
    filter_shape: Any = None,
) -> torch.Tensor:
    """Transposed 2D convolution: the gradient of :func:`conv2d` with respect to its input.

    ``kernel`` has Keras's layout with ``out`` the channels of the result and ``in`` those
    of ``x`` ('th' ``(out, in, rows, cols)``, 'tf' ``(rows, cols, in, out)``), as
    Deconvolution2D's weights; so this is the transpose of :func:`conv2d` with that kernel's
    ``in`` and ``out`` axes swapped. ``output_shape`` is the result's full shape in
    ``dim_ordering`` (its batch entry may be None): with a stride, several sizes convolve
    down to the same input size, so it must be given, and the :func:`conv2d` with
    ``border_mode`` and ``strides`` from it must give ``x``'s spatial shape. Output cells no
    window reaches (possible with 'valid' and a stride) are zero.
    """
    fn = "deconv2d"
    ordering = _ordering(fn, dim_ordering)
    x = _input(fn, x, 2)
    kernel = _torch_kernel(_kernel(fn, "kernel", kernel, x, 4), ordering)
    mode = _border_mode(fn, border_mode, ("valid", "same"))
    strides_ = _ints(fn, "strides", strides, 2)
    cf = _channels_first(x, ordering)
    out_channels, in_channels = kernel.shape[:2]
    _check_channels(fn, "kernel", cf, in_channels)

    shape = _deconv_shape(fn, output_shape, ordering)
    if shape[0] is not None and shape[0] != x.shape[0]:
        raise ValueError(
            f"deconv2d: output_shape's batch size {shape[0]} differs from x's {x.shape[0]}"
        )
    if shape[1] != out_channels:
        raise ValueError(
            f"deconv2d: output_shape has {shape[1]} channels but the kernel makes "
            f"{out_channels} (kernel torch-layout shape {tuple(kernel.shape)})"
        )
    sizes = shape[2:]
    pads = []
    for n, given, k, s in zip(sizes, cf.shape[2:], kernel.shape[2:], strides_, strict=True):
        produced = -(-n // s) if mode == "same" else -(-(n - k + 1) // s)
        if produced != given:
            raise ValueError(
                f"deconv2d: output_shape {tuple(output_shape)} is inconsistent with x's shape "
                f"{tuple(x.shape)}: a {mode!r} convolution with kernel {tuple(kernel.shape[2:])} "
                f"and strides {strides_} maps spatial size {n} to {produced}, not {given}"
            )
        before, _ = _padding(n, k, mode, s)
        full = (given - 1) * s + k  # what the transposed convolution produces unpadded
        pads.append((-before, n - (full - before)))  # crop the padding, zero-fill a short end
    y = F.conv_transpose2d(cf, kernel.transpose(0, 1), None, strides_)
    return _restore(F.pad(y, _torch_pad(pads)), ordering)


def _deconv_shape(fn: str, output_shape: Any, ordering: str) -> tuple[Any, ...]:
    """``output_shape`` as channels-first ``(batch or None, channels, rows, cols)`` ints."""
    if isinstance(output_shape, torch.Tensor):
        output_shape = output_shape.tolist()
    try:
        entries = tuple(output_shape)
    except TypeError:
        entries = ()
    if (
        len(entries) != 4
        or not all(isinstance(v, numbers.Integral) and v >= 1 for v in entries[1:])
        or not (entries[0] is None or isinstance(entries[0], numbers.Integral))
    ):
        raise ValueError(
            f"{fn}: output_shape must be 4 ints (the batch entry may be None), got {output_shape!r}"
        )
    batch, *rest = (None if v is None else int(v) for v in entries)
    if ordering == "tf":
        rest = [rest[2], rest[0], rest[1]]
    return (batch, *rest)


# --------------------------------------------------------------------------------------------
# Pooling


def _pool(
    fn: str,
    x: Any,
    rank: int,
    pool_size: Any,
    strides: Any,
    border_mode: str,
    dim_ordering: str,
    pool_mode: str,
) -> torch.Tensor:
    ordering = _ordering(fn, dim_ordering)
    x = _input(fn, x, rank)
    size = _ints(fn, "pool_size", pool_size, rank)
    strides_ = _ints(fn, "strides", strides, rank)
    mode = _border_mode(fn, border_mode, ("valid", "same"))
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"{fn}: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
    cf = _channels_first(x, ordering)
    pads = _paddings(fn, cf, size, mode, strides_, (1,) * rank)
    padded = any(before or after for before, after in pads)
    if pool_mode == "max":
        # Padding is -inf, so it never wins a window.
        if padded:
            cf = F.pad(cf, _torch_pad(pads), value=float("-inf"))
        y = _MAX_POOL[rank](cf, size, strides_)
    elif not padded:
        y = _AVG_POOL[rank](cf, size, strides_)
    else:
        # Window sums over the zero-padded input divided by each window's count of real cells.
        window_sums = _AVG_POOL[rank](F.pad(cf, _torch_pad(pads)), size, strides_)
        ones = torch.ones((1, 1, *cf.shape[2:]), dtype=cf.dtype, device=cf.device)
        counts = _AVG_POOL[rank](F.pad(ones, _torch_pad(pads)), size, strides_)
        y = window_sums / counts
    return _restore(y, ordering)


def pool2d(
    x: TensorLike,
    pool_size: Sequence[int],
    strides: Sequence[int] = (1, 1),
    border_mode: str = "valid",
    dim_ordering: str = "default",
    pool_mode: str = "max",
) -> torch.Tensor:
    """Max or average over windows of ``pool_size``; note the stride defaults to 1."""
    return _pool("pool2d", x, 2, pool_size, strides, border_mode, dim_ordering, pool_mode)


def pool3d(
    x: TensorLike,
    pool_size: Sequence[int],
    strides: Sequence[int] = (1, 1, 1),
    border_mode: str = "valid",
    dim_ordering: str = "default",
    pool_mode: str = "max",
) -> torch.Tensor:
    """As :func:`pool2d`, over three spatial axes."""
    return _pool("pool3d", x, 3, pool_size, strides, border_mode, dim_ordering, pool_mode)
