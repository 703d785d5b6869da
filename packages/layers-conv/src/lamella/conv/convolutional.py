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

from lamella import activations, constraints, initializers, regularizers
from lamella.conv.spatial import (
    SpatialLayer,
    border_padding,
    check_border_mode,
    check_int,
    config_of,
    int_pair,
    int_tuple,
    name_of,
    pad_input,
    sequence_input,
    too_small,
    torch_pad,
    window_output,
)
from lamella.engine.topology import Shape

_CONVOLVE = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_MODES = ("valid", "same", "full")


def _dilated(cls: type, kwargs: dict[str, Any], atrous: type) -> type:
    """Keras 2's ``Conv2D(dilation_rate=2)`` is Keras 1's AtrousConvolution2D: built as one."""
    rate = kwargs.get("dilation_rate", 1)
    rates = rate if isinstance(rate, (list, tuple)) else [rate]
    return atrous if cls in atrous.__bases__ and any(r != 1 for r in rates) else cls


class _Convolution(SpatialLayer):
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
        self.border_mode = check_border_mode(self, border_mode, self.border_modes)
        for arg, size in zip(self.kernel_names, self.kernel_size, strict=True):
            setattr(self, arg, size)
        setattr(self, self.stride_name, self.strides[0] if self.rank == 1 else self.strides)
        self.init = initializers.get(init)
        self.activation = activations.get(activation)
        self.W_regularizer = regularizers.get(W_regularizer)
        self.b_regularizer = regularizers.get(b_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.W_constraint = constraints.get(W_constraint)
        self.b_constraint = constraints.get(b_constraint)
        self.bias = bool(bias)
        self._initial_weights = weights

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
        self.W = self.add_weight(
            self.kernel_shape(channels),
            self._kernel_initializer(),
            name="W",
            regularizer=self.W_regularizer,
            constraint=self.W_constraint,
        )
        self._build_bias()

    def _build_bias(self, shape: tuple[int, ...] | None = None) -> None:
        if self.bias:
            self.b = self.add_weight(
                shape or (self.nb_filter,),
                "zero",
                name="b",
                regularizer=self.b_regularizer,
                constraint=self.b_constraint,
            )
        else:
            self.b = None

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
        return {
            "W_regularizer": config_of(self.W_regularizer),
            "b_regularizer": config_of(self.b_regularizer),
            "W_constraint": config_of(self.W_constraint),
            "b_constraint": config_of(self.b_constraint),
        }

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "nb_filter": self.nb_filter,
            **{arg: getattr(self, arg) for arg in self.kernel_names},
            "init": name_of(self.init),
            "activation": name_of(self.activation),
            "border_mode": self.border_mode,
            self.stride_name: getattr(self, self.stride_name),
            **self._weight_config(),
            "activity_regularizer": config_of(self.activity_regularizer),
            "bias": self.bias,
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
            init,
            activation,
            weights,
            border_mode,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
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
    """Convolution1D whose kernel taps are ``atrous_rate`` steps apart (dilated)."""

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
            init,
            activation,
            weights,
            border_mode,
            subsample_length,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            input_dim,
            input_length,
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
            init,
            activation,
            weights,
            border_mode,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            **kwargs,
        )


class Convolution2D(_Convolution2DArguments):
    """Convolution over rows and columns of images, 'th' or 'tf' ordered."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Convolution2D:
        return super().__new__(_dilated(cls, kwargs, AtrousConvolution2D))


class AtrousConvolution2D(Convolution2D):
    """Convolution2D whose kernel taps are ``atrous_rate`` cells apart (dilated)."""

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
            init,
            activation,
            weights,
            border_mode,
            subsample,
            dim_ordering,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            **kwargs,
        )
        self._set_atrous_rate(atrous_rate)


class SeparableConvolution2D(Convolution2D):
    """A depthwise convolution (``depth_multiplier`` filters per input channel), then 1x1.

    Weights: ``depthwise_kernel`` 'th' ``(depth_multiplier, stack, rows, cols)`` / 'tf'
    ``(rows, cols, stack, depth_multiplier)``, ``pointwise_kernel`` 'th'
    ``(nb_filter, depth_multiplier * stack, 1, 1)`` / 'tf' ``(1, 1, ..., nb_filter)``, ``b``.
    Depthwise output channel ``c * depth_multiplier + m`` comes from input channel ``c``.
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
            init,
            activation,
            weights,
            border_mode,
            subsample,
            dim_ordering,
            None,
            b_regularizer,
            activity_regularizer,
            None,
            b_constraint,
            bias,
            **kwargs,
        )
        self.depth_multiplier = check_int(self, "depth_multiplier", depth_multiplier)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape: Shape) -> None:
        channels = self.channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            self._keras_layout(self.kernel_size, channels, self.depth_multiplier),
            self._kernel_initializer(),
            name="depthwise_kernel",
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            self._keras_layout((1, 1), channels * self.depth_multiplier, self.nb_filter),
            self._kernel_initializer(),
            name="pointwise_kernel",
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
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
        return {
            "depthwise_regularizer": config_of(self.depthwise_regularizer),
            "pointwise_regularizer": config_of(self.pointwise_regularizer),
            "b_regularizer": config_of(self.b_regularizer),
            "depthwise_constraint": config_of(self.depthwise_constraint),
            "pointwise_constraint": config_of(self.pointwise_constraint),
            "b_constraint": config_of(self.b_constraint),
        }

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
            init,
            activation,
            weights,
            border_mode,
            subsample,
            dim_ordering,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
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
    """Convolution over three spatial axes (volumes, or video frames), 'th' or 'tf'."""

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
            init,
            activation,
            weights,
            border_mode,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
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
    """Repeats each step ``length`` times: (batch, steps, features) -> steps * length."""

    rank = 1
    factor_name = "length"

    def __init__(self, length: int = 2, **kwargs: Any):
        super().__init__(length, None, **kwargs)


class UpSampling2D(_UpSampling):
    """Repeats rows ``size[0]`` times and columns ``size[1]`` times."""

    rank = 2
    factor_name = "size"

    def __init__(self, size: Sequence[int] = (2, 2), dim_ordering: str = "default", **kwargs: Any):
        super().__init__(size, dim_ordering, **kwargs)


class UpSampling3D(_UpSampling):
    """Repeats the three spatial axes ``size[0]``, ``size[1]`` and ``size[2]`` times."""

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
    """Zeros on both sides of the three spatial axes: ``padding`` = (dim1, dim2, dim3)."""

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
    """Crops (left, right) steps off (batch, steps, features) sequences."""

    rank = 1

    def __init__(self, cropping: Sequence[int] = (1, 1), **kwargs: Any):
        super().__init__(cropping, None, **kwargs)


class Cropping2D(_Cropping):
    """Crops ((top, bottom), (left, right)) cells off images."""

    rank = 2

    def __init__(
        self, cropping: Any = ((0, 0), (0, 0)), dim_ordering: str = "default", **kwargs: Any
    ):
        super().__init__(cropping, dim_ordering, **kwargs)


class Cropping3D(_Cropping):
    """Crops a (before, after) pair of cells off each of the three spatial axes."""

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
