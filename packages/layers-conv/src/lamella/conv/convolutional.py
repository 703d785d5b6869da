"""Keras 1's convolution, up-sampling, zero-padding and cropping layers.

Weights are ``nn.Parameter``s kept in Keras 1's own layout for the layer's ordering
(Conv2D 'th' ``(nb_filter, stack, rows, cols)``, 'tf' ``(rows, cols, stack, nb_filter)``,
Conv1D ``(filter_length, 1, input_dim, nb_filter)``, ...), so ``get_weights``/``set_weights``
and files speak Keras and need no conversion.  ``call`` turns the kernel into torch's
``(out, in, *kernel)`` with a permute, which is a view: cheap next to the convolution.

The maths is ``torch.nn.functional.conv1d/2d/3d`` and ``conv_transpose2d``: a
cross-correlation, the kernel orientation of Keras's TensorFlow backend (Theano-trained
kernels must be flipped, as in Keras).  'th' inputs are torch's layout; 'tf' inputs are
handed to torch as channels-first views with channels-last strides (see ``spatial``).
Padding modes and their asymmetric 'same' are described there as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamella import activations, initializers
from lamella.conv.spatial import (
    SpatialLayer,
    border_padding,
    pad_input,
    sequence_input,
    too_small,
    torch_pad,
    window_output,
)
from lamella.engine.topology import Shape
from lamella.engine.weight_arguments import WeightArguments, function_name
from lamella.utils.arguments import check_int, check_one_of, int_pair, int_tuple

_CONVOLVE = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_MODES = ("valid", "same", "full")


def _dilated(cls: type, kwargs: dict[str, Any], atrous: type) -> type:
    """Keras 2's ``Conv2D(dilation_rate=2)`` is Keras 1's AtrousConvolution2D: built as one."""
    rate = kwargs.get("dilation_rate", 1)
    rates = rate if isinstance(rate, (list, tuple)) else [rate]
    return atrous if cls in atrous.__bases__ and any(r != 1 for r in rates) else cls


class _Convolution(WeightArguments, SpatialLayer):
    """One N-d convolution for 1D, 2D and 3D: ``activation(x ⋆ W + b)``.

    Subclasses set ``rank``, the Keras names of their kernel sizes (``kernel_names``) and
    of their strides (``stride_name``), under which the values are kept and configured.
    """

    kernel_names: tuple[str, ...]
    stride_name: str
    border_modes: tuple[str, ...] = _CONV_MODES
    atrous = False

    def __init__(
        self,
        nb_filter: int,
        kernel_size: Sequence[Any],
        strides: Any,
        dim_ordering: str | None,
        *,
        init: Any,
        activation: Any,
        weights: list[Any] | None,
        border_mode: str,
        W_regularizer: Any,
        b_regularizer: Any,
        activity_regularizer: Any,
        W_constraint: Any,
        b_constraint: Any,
        bias: bool,
        **kwargs: Any,
    ):
        super().__init__(dim_ordering, **kwargs)
        self.nb_filter = check_int(self, "nb_filter", nb_filter)
        self.kernel_size = tuple(
            check_int(self, arg, size)
            for arg, size in zip(self.kernel_names, kernel_size, strict=True)
        )
        self.strides = int_tuple(self, self.stride_name, strides, self.rank)
        self.dilation = (1,) * self.rank
        self.border_mode = check_one_of(self, "border_mode", border_mode, self.border_modes)
        for arg, size in zip(self.kernel_names, self.kernel_size, strict=True):
            setattr(self, arg, size)
        setattr(self, self.stride_name, self.strides[0] if self.rank == 1 else self.strides)
        self.activation = activations.get(activation)
        self.set_weight_arguments(
            weights=weights,
            bias=bool(bias),
            init=init,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
        )

    def _set_atrous_rate(self, atrous_rate: Any) -> None:
        self.dilation = int_tuple(self, "atrous_rate", atrous_rate, self.rank)
        self.atrous_rate = self.dilation[0] if self.rank == 1 else self.dilation

    # -- weights ------------------------------------------------------------------------

    def kernel_shape(self, channels: int) -> tuple[int, ...]:
        """The kernel's shape in Keras 1's layout for this ordering."""
        return self._keras_layout(self.kernel_size, channels, self.nb_filter)

    def _keras_layout(self, size: tuple[int, ...], stack: int, filters: int) -> tuple[int, ...]:
        """A kernel's shape as Keras 1 keeps it: 'th' ``(filters, stack, *size)``, 'tf'
        ``(*size, stack, filters)``; Separable's two kernels follow it as well."""
        return (*size, stack, filters) if self.channels_last else (filters, stack, *size)

    @property
    def fan_ordering(self) -> str:
        """The ordering the initializer reads fans by (Keras 1 passes the layer's)."""
        return self.dim_ordering

    def _kernel_initializer(self) -> Any:
        return initializers.with_dim_ordering(self.init, self.fan_ordering)

    def build(self, input_shape: Shape) -> None:
        channels = self.channels(input_shape)
        self.W = self.add_keras_weight(self.kernel_shape(channels), self._kernel_initializer(), "W")
        self._build_bias()

    def _build_bias(self, shape: tuple[int, ...] | None = None) -> None:
        self.b = self.add_bias(shape or (self.nb_filter,))

    def torch_kernel(self, kernel: torch.Tensor) -> torch.Tensor:
        """A Keras-layout kernel as torch's ``(out, in, *kernel)``: a permuted view."""
        if not self.channels_last:
            return kernel
        return kernel.permute(-1, -2, *range(kernel.dim() - 2))

    # -- maths --------------------------------------------------------------------------

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.activation(self.restore(self._convolve(self.channels_first(x))))

    def _paddings(self, sizes: Sequence[int]) -> list[tuple[int, int]]:
        return [
            border_padding(n, k, self.border_mode, s, d)
            for n, k, s, d in zip(sizes, self.kernel_size, self.strides, self.dilation, strict=True)
        ]

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution of a channels-first ``x``, bias included."""
        x, padding = pad_input(x, self._paddings(x.shape[2:]))
        return _CONVOLVE[self.rank](
            x, self.torch_kernel(self.W), self.b, self.strides, padding, self.dilation
        )

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        sizes = window_output(
            self,
            self.spatial_sizes(input_shape),
            self.kernel_size,
            self.border_mode,
            self.strides,
            self.dilation,
        )
        return self.shape_with(input_shape, sizes, self.nb_filter)

    # -- configuration ------------------------------------------------------------------

    def _weight_config(self) -> dict[str, Any]:
        return self.weight_config("W_regularizer", "b_regularizer", "W_constraint", "b_constraint")

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "nb_filter": self.nb_filter,
            **{arg: getattr(self, arg) for arg in self.kernel_names},
            **self.weight_config("init"),
            "activation": function_name(self.activation),
            "border_mode": self.border_mode,
            self.stride_name: getattr(self, self.stride_name),
            **self._weight_config(),
            **self.weight_config("activity_regularizer", "bias"),
        }
        if self.atrous:
            config["atrous_rate"] = self.atrous_rate
        return config


class _Convolution1DArguments(_Convolution):
    """Keras 1's arguments for a window over the steps of ``(batch, steps, input_dim)``.

    Convolution1D and LocallyConnected1D take the same ones, ``input_dim`` and
    ``input_length`` standing for ``input_shape``.
    """

    rank = 1
    kernel_names = ("filter_length",)
    stride_name = "subsample_length"

    def __init__(
        self,
        nb_filter: int,
        filter_length: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample_length: int = 1,
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        input_dim: int | None = None,
        input_length: int | None = None,
        **kwargs: Any,
    ):
        sequence_input(kwargs, input_dim, input_length)
        super().__init__(
            nb_filter,
            (filter_length,),
            subsample_length,
            None,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            **kwargs,
        )
        self.input_dim = input_dim
        self.input_length = input_length

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "input_length": self.input_length,
        }


class Convolution1D(_Convolution1DArguments):
    """Convolution over the steps of ``(batch, steps, input_dim)`` sequences.

    The kernel is ``(filter_length, 1, input_dim, nb_filter)``, Keras 1's 2D 'tf' kernel
    of one column.  Its initializer reads fans as 'th', as Keras 1 does, so glorot scales
    match Keras (fan_in = input_dim * nb_filter, fan_out = filter_length * that).

    Args:
        nb_filter: The number of filters: the size of the output's feature axis.
        filter_length: The length of each filter, in steps.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) as numpy
            arrays, W in the layout above, used instead of ``init``.
        border_mode: ``'valid'`` (the default: only where the window fits),
            ``'same'`` (padded with zeros so that the output has ``ceil(size /
            stride)`` cells; an odd cell of padding goes at the end, as
            TensorFlow pads) or ``'full'`` (wherever the window overlaps the
            input).
        subsample_length: The stride: how many steps the window moves each
            time (default 1).
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
        input_length: The number of steps, when it is fixed (default None: any).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, input_dim)``.

    Output shape:
        ``(batch, new_steps, nb_filter)``.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid', ``n`` for 'same' and ``n + k - 1`` for 'full' (``n`` the input
        size, ``k`` the kernel size).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Convolution1D:
        return super().__new__(_dilated(cls, kwargs, AtrousConvolution1D))

    @property
    def fan_ordering(self) -> str:
        return "th"

    def kernel_shape(self, channels: int) -> tuple[int, ...]:
        return (self.filter_length, 1, channels, self.nb_filter)

    def torch_kernel(self, kernel: torch.Tensor) -> torch.Tensor:
        return super().torch_kernel(kernel.squeeze(1))


class AtrousConvolution1D(Convolution1D):
    """Convolution1D whose kernel taps are ``atrous_rate`` steps apart (dilated).

    The window spans ``filter_length + (filter_length - 1) * (atrous_rate - 1)``
    steps with as many weights as Convolution1D's, so stacked layers see far back
    at little cost. ``Convolution1D(dilation_rate=...)``, Keras 2's spelling, makes
    one.

    Args:
        nb_filter: The number of filters: the size of the output's feature axis.
        filter_length: The length of each filter, in steps.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) as numpy
            arrays, W in the layout above, used instead of ``init``.
        border_mode: ``'valid'`` (the default: only where the window fits),
            ``'same'`` (padded with zeros so that the output has ``ceil(size /
            stride)`` cells; an odd cell of padding goes at the end, as
            TensorFlow pads) or ``'full'`` (wherever the window overlaps the
            input).
        subsample_length: The stride: how many steps the window moves each
            time (default 1).
        atrous_rate: The distance between two taps of the filter, in steps
            (default 1: an ordinary convolution).
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
        input_length: The number of steps, when it is fixed (default None: any).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, input_dim)``.

    Output shape:
        ``(batch, new_steps, nb_filter)``, as for Convolution1D with the window's
        dilated span as ``k``.
    """

    atrous = True

    def __init__(
        self,
        nb_filter: int,
        filter_length: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample_length: int = 1,
        atrous_rate: int = 1,
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        input_dim: int | None = None,
        input_length: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            nb_filter,
            filter_length,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            subsample_length=subsample_length,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            input_dim=input_dim,
            input_length=input_length,
            **kwargs,
        )
        self._set_atrous_rate(atrous_rate)


class _Convolution2DArguments(_Convolution):
    """Keras 1's arguments for a window over the rows and columns of images.

    Convolution2D and LocallyConnected2D take the same ones.
    """

    rank = 2
    kernel_names = ("nb_row", "nb_col")
    stride_name = "subsample"

    def __init__(
        self,
        nb_filter: int,
        nb_row: int,
        nb_col: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample: Sequence[int] = (1, 1),
        dim_ordering: str = "default",
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            nb_filter,
            (nb_row, nb_col),
            subsample,
            dim_ordering,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            **kwargs,
        )


class Convolution2D(_Convolution2DArguments):
    """Convolution over rows and columns of images, 'th' or 'tf' ordered.

    ``Convolution2D(32, 3, 3, border_mode='same')`` is the usual image layer:
    32 filters of 3 x 3 cells, the output the size of the input.

    Args:
        nb_filter: The number of filters: the number of output channels.
        nb_row: The number of rows of each filter.
        nb_col: The number of columns of each filter.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) as numpy
            arrays: W is ``(nb_filter, channels, nb_row, nb_col)`` for 'th' and
            ``(nb_row, nb_col, channels, nb_filter)`` for 'tf', Keras 1's layouts.
        border_mode: ``'valid'`` (the default: only where the window fits),
            ``'same'`` (padded with zeros so that the output has ``ceil(size /
            stride)`` cells; an odd cell of padding goes at the end, as
            TensorFlow pads) or ``'full'`` (wherever the window overlaps the
            input).
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
        for 'tf'.

    Output shape:
        ``(batch, nb_filter, new_rows, new_cols)`` for 'th', ``(batch, new_rows,
        new_cols, nb_filter)`` for 'tf'.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid', ``n`` for 'same' and ``n + k - 1`` for 'full' (``n`` the input
        size, ``k`` the kernel size).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Convolution2D:
        return super().__new__(_dilated(cls, kwargs, AtrousConvolution2D))


class AtrousConvolution2D(Convolution2D):
    """Convolution2D whose kernel taps are ``atrous_rate`` cells apart (dilated).

    The window spans ``k + (k - 1) * (rate - 1)`` cells along each axis with as
    many weights as Convolution2D's. ``Convolution2D(dilation_rate=...)``, Keras
    2's spelling, makes one.

    Args:
        nb_filter: The number of filters: the number of output channels.
        nb_row: The number of rows of each filter.
        nb_col: The number of columns of each filter.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) as numpy
            arrays: W is ``(nb_filter, channels, nb_row, nb_col)`` for 'th' and
            ``(nb_row, nb_col, channels, nb_filter)`` for 'tf', Keras 1's layouts.
        border_mode: ``'valid'`` (the default: only where the window fits),
            ``'same'`` (padded with zeros so that the output has ``ceil(size /
            stride)`` cells; an odd cell of padding goes at the end, as
            TensorFlow pads) or ``'full'`` (wherever the window overlaps the
            input).
        subsample: The strides along rows and columns (default ``(1, 1)``).
        atrous_rate: The distance between two taps of a filter along rows and
            columns (default ``(1, 1)``: an ordinary convolution).
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
        for 'tf'.

    Output shape:
        As for Convolution2D, with the window's dilated span as ``k``.
    """

    atrous = True

    def __init__(
        self,
        nb_filter: int,
        nb_row: int,
        nb_col: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample: Sequence[int] = (1, 1),
        atrous_rate: Sequence[int] = (1, 1),
        dim_ordering: str = "default",
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            nb_filter,
            nb_row,
            nb_col,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            subsample=subsample,
            dim_ordering=dim_ordering,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            **kwargs,
        )
        self._set_atrous_rate(atrous_rate)


class SeparableConvolution2D(Convolution2D):
    """A depthwise convolution (``depth_multiplier`` filters per input channel), then 1x1.

    Weights: ``depthwise_kernel`` 'th' ``(depth_multiplier, stack, rows, cols)`` / 'tf'
    ``(rows, cols, stack, depth_multiplier)``, ``pointwise_kernel`` 'th'
    ``(nb_filter, depth_multiplier * stack, 1, 1)`` / 'tf' ``(1, 1, ..., nb_filter)``, ``b``.
    Depthwise output channel ``c * depth_multiplier + m`` comes from input channel ``c``.

    It has far fewer weights than a Convolution2D with the same window and
    number of filters.

    Args:
        nb_filter: The number of output channels (of the pointwise step).
        nb_row: The number of rows of each depthwise filter.
        nb_col: The number of columns of each depthwise filter.
        init: How both kernels are initialized: a registered initializer name
            (default ``'glorot_uniform'``) or a function of a shape; b starts at
            zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[depthwise_kernel, pointwise_kernel, b]``
            (without b when ``bias`` is False) in the layouts above.
        border_mode: ``'valid'`` (the default: only where the window fits),
            ``'same'`` (padded with zeros so that the output has ``ceil(size /
            stride)`` cells; an odd cell of padding goes at the end, as
            TensorFlow pads) or ``'full'`` (wherever the window overlaps the
            input).
        subsample: The strides along rows and columns (default ``(1, 1)``).
        depth_multiplier: How many depthwise filters each input channel gets
            (default 1).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        depthwise_regularizer: A penalty on the depthwise kernel, or None.
        pointwise_regularizer: A penalty on the pointwise kernel, or None.
        b_regularizer: A penalty on b, or None.
        activity_regularizer: A penalty on the layer's output, or None.
        depthwise_constraint: A constraint applied to the depthwise kernel after
            each update, or None.
        pointwise_constraint: The same for the pointwise kernel.
        b_constraint: A constraint on b, or None.
        bias: Whether the layer adds a bias b (default True).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        ``(batch, nb_filter, new_rows, new_cols)`` for 'th', ``(batch, new_rows,
        new_cols, nb_filter)`` for 'tf'.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid', ``n`` for 'same' and ``n + k - 1`` for 'full' (``n`` the input
        size, ``k`` the kernel size).
    """

    def __init__(
        self,
        nb_filter: int,
        nb_row: int,
        nb_col: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample: Sequence[int] = (1, 1),
        depth_multiplier: int = 1,
        dim_ordering: str = "default",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            nb_filter,
            nb_row,
            nb_col,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            subsample=subsample,
            dim_ordering=dim_ordering,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            b_constraint=b_constraint,
            bias=bias,
            **kwargs,
        )
        self.depth_multiplier = check_int(self, "depth_multiplier", depth_multiplier)
        self.set_weight_arguments(
            depthwise_regularizer=depthwise_regularizer,
            pointwise_regularizer=pointwise_regularizer,
            depthwise_constraint=depthwise_constraint,
            pointwise_constraint=pointwise_constraint,
        )

    def build(self, input_shape: Shape) -> None:
        channels = self.channels(input_shape)
        self.depthwise_kernel = self.add_keras_weight(
            self._keras_layout(self.kernel_size, channels, self.depth_multiplier),
            self._kernel_initializer(),
            "depthwise_kernel",
            arguments="depthwise",
        )
        self.pointwise_kernel = self.add_keras_weight(
            self._keras_layout((1, 1), channels * self.depth_multiplier, self.nb_filter),
            self._kernel_initializer(),
            "pointwise_kernel",
            arguments="pointwise",
        )
        self._build_bias()

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x, padding = pad_input(x, self._paddings(x.shape[2:]))
        # (multiplier, in, r, c) -> (in * multiplier, 1, r, c): one group per input channel
        depthwise = self.torch_kernel(self.depthwise_kernel).transpose(0, 1)
        depthwise = depthwise.reshape(-1, 1, *self.kernel_size)
        x = F.conv2d(x, depthwise, None, self.strides, padding, self.dilation, groups=channels)
        return F.conv2d(x, self.torch_kernel(self.pointwise_kernel), self.b)

    def _weight_config(self) -> dict[str, Any]:
        return self.weight_config(
            "depthwise_regularizer",
            "pointwise_regularizer",
            "b_regularizer",
            "depthwise_constraint",
            "pointwise_constraint",
            "b_constraint",
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


class Deconvolution2D(Convolution2D):
    """The transpose of Convolution2D: maps a convolution's output shape back to its input's.

    ``output_shape`` is the full output shape, batch included (its batch entry is not
    used); the convolution with the same kernel, ``border_mode`` and ``subsample`` must map
    it to this layer's input size.  Left out (Keras 2's ``Conv2DTranspose``), it is the
    largest such shape: ``rows * stride`` for 'same', ``rows * stride + max(k - stride, 0)``
    for 'valid'.  The kernel has Convolution2D's layout with this layer's input channels as
    ``stack``: 'th' ``(nb_filter, stack, rows, cols)``.

    Used to grow feature maps back to a larger size (decoders, generators).

    Args:
        nb_filter: The number of output channels.
        nb_row: The number of rows of each filter.
        nb_col: The number of columns of each filter.
        output_shape: The output shape, batch axis included, as above (default
            None: the largest that fits).
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias) in the layout
            above.
        border_mode: The ``border_mode`` of the convolution this layer is the
            transpose of: ``'valid'`` (the default), ``'same'`` or ``'full'``.
        subsample: The strides of that convolution, which become this layer's
            up-sampling factors (default ``(1, 1)``).
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
        for 'tf'.

    Output shape:
        ``output_shape`` (with ``nb_filter`` channels): ``(batch, nb_filter, rows,
        cols)`` for 'th', ``(batch, rows, cols, nb_filter)`` for 'tf'.
    """

    def __init__(
        self,
        nb_filter: int,
        nb_row: int,
        nb_col: int,
        output_shape: Sequence[int | None] | None = None,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample: Sequence[int] = (1, 1),
        dim_ordering: str = "default",
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            nb_filter,
            nb_row,
            nb_col,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            subsample=subsample,
            dim_ordering=dim_ordering,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            **kwargs,
        )
        self.output_shape_: tuple[int | None, ...] | None = None
        self.output_sizes: tuple[int, ...] | None = None
        if output_shape is not None:
            self._set_output_shape(output_shape)

    def _set_output_shape(self, output_shape: Any) -> None:
        shape = tuple(output_shape) if isinstance(output_shape, Sequence) else None
        sizes = self.spatial_sizes(shape) if shape is not None and len(shape) == 4 else None
        if sizes is None or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(
                f"Deconvolution2D {self.name}: output_shape must be the 4D output shape "
                f"(batch, channels, rows, cols) for 'th' or (batch, rows, cols, channels) for "
                f"'tf', with known rows and cols, got {output_shape!r}"
            )
        channels = shape[self.channel_axis]
        if channels is not None and channels != self.nb_filter:
            raise ValueError(
                f"Deconvolution2D {self.name}: output_shape {shape} has {channels} channels "
                f"but nb_filter is {self.nb_filter}"
            )
        self.output_shape_ = shape
        self.output_sizes = sizes

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        if self.output_sizes is None:
            self._set_output_shape(self._largest_output(input_shape))
        self._check_input_sizes(self.spatial_sizes(input_shape))
        return self.shape_with(input_shape, self.output_sizes, self.nb_filter)

    def _largest_output(self, input_shape: Shape) -> Shape:
        """The output shape Keras 2's Conv2DTranspose gives an input of ``input_shape``."""
        sizes = []
        for size, k, s in zip(
            self.spatial_sizes(input_shape), self.kernel_size, self.strides, strict=True
        ):
            if size is None:
                raise ValueError(
                    f"Deconvolution2D {self.name}: without output_shape, the input's rows and "
                    f"columns must be known, got input shape {input_shape}"
                )
            sizes.append(size * s if self.border_mode == "same" else size * s + max(k - s, 0))
        return self.shape_with((None, *input_shape[1:]), sizes, self.nb_filter)

    def _check_input_sizes(self, sizes: Sequence[int | None]) -> None:
        expected = window_output(
            self, self.output_sizes, self.kernel_size, self.border_mode, self.strides
        )
        if any(n is not None and n != e for n, e in zip(sizes, expected, strict=True)):
            raise ValueError(
                f"Deconvolution2D {self.name}: output_shape {self.output_shape_} does not "
                f"fit an input of spatial size {tuple(sizes)}: border_mode "
                f"{self.border_mode!r} with subsample {self.strides} takes it to "
                f"{expected}"
            )

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_sizes(tuple(x.shape[2:]))
        # torch wants (in, out, r, c): the transpose of the convolution's (out, in, r, c)
        kernel = self.torch_kernel(self.W).transpose(0, 1)
        y = F.conv_transpose2d(x, kernel, None, self.strides)
        # y[i * stride + d] gathers input cell i through tap d; the convolution's padding
        # says where output cell 0 sits in it.  Crop that off (negative pad) and fill or
        # crop the end to the requested size.
        edges = []
        for full, size, k, s in zip(
            y.shape[2:], self.output_sizes, self.kernel_size, self.strides, strict=True
        ):
            before = border_padding(size, k, self.border_mode, s)[0]
            edges.append((-before, size - (full - before)))
        y = F.pad(y, torch_pad(edges))
        return y if self.b is None else y + self.b.view(-1, 1, 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "output_shape": self.output_shape_}


class Convolution3D(_Convolution):
    """Convolution over three spatial axes (volumes, or video frames), 'th' or 'tf'.

    Args:
        nb_filter: The number of filters: the number of output channels.
        kernel_dim1: The size of each filter along the first spatial axis.
        kernel_dim2: The size along the second.
        kernel_dim3: The size along the third.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape; b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias): W is
            ``(nb_filter, channels, k1, k2, k3)`` for 'th' and ``(k1, k2, k3,
            channels, nb_filter)`` for 'tf'.
        border_mode: ``'valid'`` (the default: only where the window fits),
            ``'same'`` (padded with zeros so that the output has ``ceil(size /
            stride)`` cells; an odd cell of padding goes at the end, as
            TensorFlow pads) or ``'full'`` (wherever the window overlaps the
            input).
        subsample: The strides along the three axes (default ``(1, 1, 1)``).
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
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        ``(batch, nb_filter, n1, n2, n3)`` for 'th', ``(batch, n1, n2, n3, nb_filter)``
        for 'tf'.
        Each new size is ``ceil(m / stride)``, where ``m`` is ``n - k + 1`` for
        'valid', ``n`` for 'same' and ``n + k - 1`` for 'full' (``n`` the input
        size, ``k`` the kernel size).
    """

    rank = 3
    kernel_names = ("kernel_dim1", "kernel_dim2", "kernel_dim3")
    stride_name = "subsample"

    def __init__(
        self,
        nb_filter: int,
        kernel_dim1: int,
        kernel_dim2: int,
        kernel_dim3: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        border_mode: str = "valid",
        subsample: Sequence[int] = (1, 1, 1),
        dim_ordering: str = "default",
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            nb_filter,
            (kernel_dim1, kernel_dim2, kernel_dim3),
            subsample,
            dim_ordering,
            init=init,
            activation=activation,
            weights=weights,
            border_mode=border_mode,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            **kwargs,
        )


# -- shape layers: up-sampling, zero-padding, cropping ----------------------------------


class _UpSampling(SpatialLayer):
    """Repeats every cell ``factors[i]`` times along spatial axis i (nearest neighbour).

    ``factor_name`` is Keras's name for the factors: ``length`` (1D) or ``size``.
    """

    factor_name: str

    def __init__(self, factors: Any, dim_ordering: str | None, **kwargs: Any):
        super().__init__(dim_ordering, **kwargs)
        self.factors = int_tuple(self, self.factor_name, factors, self.rank)
        setattr(self, self.factor_name, self.factors[0] if self.rank == 1 else self.factors)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        sizes = [
            None if n is None else n * f
            for n, f in zip(self.spatial_sizes(input_shape), self.factors, strict=True)
        ]
        return self.shape_with(input_shape, sizes)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        for axis, factor in zip(self.spatial_axes, self.factors, strict=True):
            x = x.repeat_interleave(factor, dim=axis)
        return x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), self.factor_name: getattr(self, self.factor_name)}


class UpSampling1D(_UpSampling):
    """Repeats each step ``length`` times: (batch, steps, features) -> steps * length.

    Args:
        length: How many times each step is repeated (default 2).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, steps * length, features)``.
    """

    rank = 1
    factor_name = "length"

    def __init__(self, length: int = 2, **kwargs: Any):
        super().__init__(length, None, **kwargs)


class UpSampling2D(_UpSampling):
    """Repeats rows ``size[0]`` times and columns ``size[1]`` times.

    Args:
        size: The factors for rows and columns; one int stands for both
            (default ``(2, 2)``).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        The input shape with ``rows * size[0]`` rows and ``cols * size[1]`` columns.
    """

    rank = 2
    factor_name = "size"

    def __init__(self, size: Sequence[int] = (2, 2), dim_ordering: str = "default", **kwargs: Any):
        super().__init__(size, dim_ordering, **kwargs)


class UpSampling3D(_UpSampling):
    """Repeats the three spatial axes ``size[0]``, ``size[1]`` and ``size[2]`` times.

    Args:
        size: The factors for the three axes; one int stands for all of them
            (default ``(2, 2, 2)``).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        The input shape with each spatial size multiplied by its factor.
    """

    rank = 3
    factor_name = "size"

    def __init__(
        self, size: Sequence[int] = (2, 2, 2), dim_ordering: str = "default", **kwargs: Any
    ):
        super().__init__(size, dim_ordering, **kwargs)


class _Border(SpatialLayer):
    """Adds (zero padding, ``sign = 1``) or removes (cropping, ``sign = -1``) cells at the
    ends of the spatial axes: ``edges`` holds (before, after) counts per axis, set by the
    subclass from its Keras argument ``arg_name``."""

    sign: int
    arg_name: str
    edges: list[tuple[int, int]]

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        sizes = self.spatial_sizes(input_shape)
        out = [
            None if n is None else n + self.sign * (before + after)
            for n, (before, after) in zip(sizes, self.edges, strict=True)
        ]
        if any(o is not None and o < 0 for o in out):  # cropping everything leaves size 0
            raise too_small(self, sizes, f"cropping {self.edges}")
        return self.shape_with(input_shape, out)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        pads = [(0, 0)] * (x.dim() - 1)  # every axis but the batch axis
        for axis, (before, after) in zip(self.spatial_axes, self.edges, strict=True):
            pads[axis - 1] = (self.sign * before, self.sign * after)
        return F.pad(x, torch_pad(pads))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), self.arg_name: getattr(self, self.arg_name)}


class _ZeroPadding(_Border):
    """Adds zeros at the ends of the spatial axes; subclasses read Keras's ``padding``."""

    sign = 1
    arg_name = "padding"


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps of (batch, steps, features) sequences.

    ``padding``: an int for both ends, (left, right), or ``{'left_pad', 'right_pad'}``.

    Args:
        padding: How many steps of zeros to add, as above (default 1 at each
            end).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, left + steps + right, features)``.
    """

    rank = 1

    def __init__(self, padding: Any = 1, **kwargs: Any):
        super().__init__(None, **kwargs)
        if isinstance(padding, dict):
            padding = _from_keys(self, padding, ("left_pad", "right_pad"))
        self.padding = int_pair(self, "padding", padding)
        self.edges = [self.padding]


class ZeroPadding2D(_ZeroPadding):
    """Zeros around images.

    ``padding``: (rows, cols) on both sides, (top, bottom, left, right), or a dict with
    ``top_pad``, ``bottom_pad``, ``left_pad``, ``right_pad`` (missing keys are 0).

    Args:
        padding: How many rows and columns of zeros to add, as above (default
            ``(1, 1)``: one of each on every side).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        The input shape with ``top + rows + bottom`` rows and ``left + cols + right``
        columns.
    """

    rank = 2

    def __init__(self, padding: Any = (1, 1), dim_ordering: str = "default", **kwargs: Any):
        super().__init__(dim_ordering, **kwargs)
        if isinstance(padding, dict):
            padding = _from_keys(self, padding, ("top_pad", "bottom_pad", "left_pad", "right_pad"))
        if isinstance(padding, Sequence) and len(padding) == 4:
            self.padding = int_tuple(self, "padding", padding, 4, minimum=0)
        else:
            rows, cols = int_tuple(self, "padding", padding, 2, minimum=0)
            self.padding = (rows, rows, cols, cols)
        top, bottom, left, right = self.padding
        self.edges = [(top, bottom), (left, right)]


class ZeroPadding3D(_ZeroPadding):
    """Zeros on both sides of the three spatial axes: ``padding`` = (dim1, dim2, dim3).

    Args:
        padding: How many cells of zeros to add at each end of each spatial axis
            (default ``(1, 1, 1)``).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        The input shape with each spatial size grown by twice its padding.
    """

    rank = 3

    def __init__(
        self, padding: Sequence[int] = (1, 1, 1), dim_ordering: str = "default", **kwargs: Any
    ):
        super().__init__(dim_ordering, **kwargs)
        self.padding = int_tuple(self, "padding", padding, 3, minimum=0)
        self.edges = [(p, p) for p in self.padding]


class _Cropping(_Border):
    """Crops cells off the spatial axes: ``cropping`` has a (before, after) pair per axis
    (one pair for 1D); an int stands for both ends of its axis."""

    sign = -1
    arg_name = "cropping"

    def __init__(self, cropping: Any, dim_ordering: str | None, **kwargs: Any):
        super().__init__(dim_ordering, **kwargs)
        pairs = [cropping] if self.rank == 1 else cropping
        if not isinstance(pairs, Sequence) or len(pairs) != self.rank:
            raise ValueError(
                f"{type(self).__name__} {self.name}: cropping must be "
                f"{self.rank} (before, after) pairs, got {cropping!r}"
            )
        self.edges = [int_pair(self, "cropping", pair) for pair in pairs]
        self.cropping = self.edges[0] if self.rank == 1 else tuple(self.edges)


class Cropping1D(_Cropping):
    """Crops (left, right) steps off (batch, steps, features) sequences.

    Args:
        cropping: How many steps to remove at the start and at the end; one int
            stands for both (default ``(1, 1)``).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``.

    Output shape:
        ``(batch, steps - left - right, features)``.
    """

    rank = 1

    def __init__(self, cropping: Sequence[int] = (1, 1), **kwargs: Any):
        super().__init__(cropping, None, **kwargs)


class Cropping2D(_Cropping):
    """Crops ((top, bottom), (left, right)) cells off images.

    Args:
        cropping: How many rows to remove at the top and bottom, and columns at
            the left and right; an int in place of a pair stands for both ends
            (default ``((0, 0), (0, 0))``: nothing).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` for 'th', ``(batch, rows, cols, channels)``
        for 'tf'.

    Output shape:
        The input shape with ``rows - top - bottom`` rows and ``cols - left - right``
        columns.
    """

    rank = 2

    def __init__(
        self, cropping: Any = ((0, 0), (0, 0)), dim_ordering: str = "default", **kwargs: Any
    ):
        super().__init__(cropping, dim_ordering, **kwargs)


class Cropping3D(_Cropping):
    """Crops a (before, after) pair of cells off each of the three spatial axes.

    Args:
        cropping: One (before, after) pair per spatial axis; an int in place of a
            pair stands for both ends (default ``((1, 1), (1, 1), (1, 1))``).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` for 'th', ``(batch, d1, d2, d3,
        channels)`` for 'tf'.

    Output shape:
        The input shape with each spatial size reduced by its pair.
    """

    rank = 3

    def __init__(
        self, cropping: Any = ((1, 1), (1, 1), (1, 1)), dim_ordering: str = "default", **kwargs: Any
    ):
        super().__init__(cropping, dim_ordering, **kwargs)


def _from_keys(
    layer: SpatialLayer, padding: dict[str, Any], keys: tuple[str, ...]
) -> tuple[Any, ...]:
    """Keras 1's dict form of ``padding``: missing keys are 0, unknown keys an error."""
    unknown = set(padding) - set(keys)
    if unknown:
        raise ValueError(
            f"{type(layer).__name__} {layer.name}: padding keys must be among "
            f"{keys}, got {sorted(unknown)}"
        )
    return tuple(padding.get(key, 0) for key in keys)
