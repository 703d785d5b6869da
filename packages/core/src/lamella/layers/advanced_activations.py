"""Keras 1's advanced activations: rectifiers with fixed or learned parameters, as layers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamella.backend.config import torch_dtype
from lamella.engine.topology import Layer, Shape
from lamella.engine.weight_arguments import function_name
from lamella.utils.arguments import invalid, is_int


class LeakyReLU(Layer):
    """``x`` where ``x > 0``, else ``alpha · x``: a small slope keeps negative units learning.

    Args:
        alpha: The slope for negative inputs (default 0.3).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

    def __init__(self, alpha: float = 0.3, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return F.leaky_relu(x, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class ELU(Layer):
    """``x`` where ``x > 0``, else ``alpha · (exp(x) - 1)``.

    Args:
        alpha: The scale of the negative part: the output tends to ``-alpha``
            as ``x`` goes to minus infinity (default 1.0).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return F.elu(x, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class ThresholdedReLU(Layer):
    """``x`` where ``x > theta``, else 0.

    Args:
        theta: The threshold at and below which the output is 0 (default 1.0).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

    def __init__(self, theta: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.theta = theta
        self.supports_masking = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return F.threshold(x, self.theta, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "theta": self.theta}


def _filled(value: float) -> Callable[..., torch.Tensor]:
    """An initializer that gives every cell ``value``."""

    def init(shape: Sequence[int], name: str | None = None) -> torch.Tensor:
        return torch.full(tuple(shape), float(value), dtype=torch_dtype())

    return init


class _Learned(Layer):
    """An element-wise function with learned parameters, one per input cell.

    Axes in ``shared_axes`` (counted from 1, batch excluded) get one parameter for
    the whole axis: ``shared_axes=[1, 2]`` on 'tf' feature maps (rows, cols,
    channels) learns one parameter per channel.
    """

    def __init__(
        self, weights: list[Any] | None, shared_axes: int | Sequence[int] | None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        axes = [shared_axes] if is_int(shared_axes) else shared_axes
        if axes is not None and (
            not isinstance(axes, (list, tuple)) or not all(is_int(a) and a >= 1 for a in axes)
        ):
            raise invalid(
                self, "shared_axes", "None, or input axes counted from 1 (batch excluded)", axes
            )
        self.shared_axes = None if axes is None else [int(a) for a in axes]
        self.supports_masking = True
        self._initial_weights = weights

    def _param_shape(self, input_shape: Shape) -> tuple[int, ...]:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(shape):
                raise invalid(
                    self,
                    "shared_axes",
                    f"axes of the input {input_shape} (1 to {len(shape)})",
                    axis,
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"{type(self).__name__} {self.name}: every axis of the input {input_shape} "
                "without a known size must be in shared_axes, since it learns a parameter "
                "per cell"
            )
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shared_axes": self.shared_axes}


class PReLU(_Learned):
    """``x`` where ``x > 0``, else ``alphas · x``, with the slopes learned.

    One slope per input cell, unless ``shared_axes`` shares one along some axes:
    ``shared_axes=[2, 3]`` on 'th' feature maps (channels, rows, cols) learns one
    slope per channel.

    Args:
        init: How the slopes are initialized: a registered initializer name
            (default ``'zero'``, which starts as a plain ReLU) or a function of a
            shape.
        weights: Initial values ``[alphas]``, used instead of ``init``.
        shared_axes: Input axes (counted from 1, batch excluded) that share
            one parameter, as above (default None: one per input cell). An axis
            whose size is not known must be shared.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any; the sizes of the axes not shared must be known.

    Output shape:
        The input shape.
    """

    def __init__(
        self,
        init: Any = "zero",
        weights: list[Any] | None = None,
        shared_axes: int | Sequence[int] | None = None,
        **kwargs: Any,
    ):
        from lamella import initializers

        super().__init__(weights, shared_axes, **kwargs)
        self.init = initializers.get(init)

    def build(self, input_shape: Shape) -> None:
        self.alphas = self.add_weight(self._param_shape(input_shape), self.init, name="alphas")

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x.clamp(min=0) + self.alphas * x.clamp(max=0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init": function_name(self.init)}


class ParametricSoftplus(_Learned):
    """``alphas · softplus(betas · x)``, a smooth rectifier with learned scale and sharpness.

    One alpha and one beta per input cell, unless ``shared_axes`` shares them
    along some axes.

    Args:
        alpha_init: The number every alpha starts at (default 0.2).
        beta_init: The number every beta starts at (default 5.0).
        weights: Initial values ``[alphas, betas]``, used instead of the numbers
            above.
        shared_axes: Input axes (counted from 1, batch excluded) that share
            one parameter, as above (default None: one per input cell). An axis
            whose size is not known must be shared.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any; the sizes of the axes not shared must be known.

    Output shape:
        The input shape.
    """

    def __init__(
        self,
        alpha_init: float = 0.2,
        beta_init: float = 5.0,
        weights: list[Any] | None = None,
        shared_axes: int | Sequence[int] | None = None,
        **kwargs: Any,
    ):
        super().__init__(weights, shared_axes, **kwargs)
        self.alpha_init = alpha_init
        self.beta_init = beta_init

    def build(self, input_shape: Shape) -> None:
        shape = self._param_shape(input_shape)
        self.alphas = self.add_weight(shape, _filled(self.alpha_init), name="alphas")
        self.betas = self.add_weight(shape, _filled(self.beta_init), name="betas")

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.alphas * F.softplus(self.betas * x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha_init": self.alpha_init, "beta_init": self.beta_init}


class SReLU(_Learned):
    """S-shaped rectifier: the identity between two learned thresholds, learned slopes outside.

    With ``t_right' = t_left + |t_right|`` (so the right threshold is never left of
    the left one): ``t_left + a_left·(x - t_left)`` below t_left, ``x`` in between,
    ``t_right' + a_right·(x - t_right')`` above t_right'.

    Four parameters per input cell, unless ``shared_axes`` shares them along some
    axes. Initial values come from the initializers (``set_weights`` changes them
    after the layer is built).

    Args:
        t_left_init: How t_left is initialized: a registered initializer name
            or a function of a shape (default ``'zero'``).
        a_left_init: How a_left is initialized (default ``'glorot_uniform'``).
        t_right_init: How t_right is initialized (default ``'glorot_uniform'``).
        a_right_init: How a_right is initialized (default ``'one'``).
        shared_axes: Input axes (counted from 1, batch excluded) that share
            one parameter, as above (default None: one per input cell). An axis
            whose size is not known must be shared.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any; the sizes of the axes not shared must be known.

    Output shape:
        The input shape.
    """

    def __init__(
        self,
        t_left_init: Any = "zero",
        a_left_init: Any = "glorot_uniform",
        t_right_init: Any = "glorot_uniform",
        a_right_init: Any = "one",
        shared_axes: int | Sequence[int] | None = None,
        **kwargs: Any,
    ):
        from lamella import initializers

        super().__init__(None, shared_axes, **kwargs)
        self.t_left_init = initializers.get(t_left_init)
        self.a_left_init = initializers.get(a_left_init)
        self.t_right_init = initializers.get(t_right_init)
        self.a_right_init = initializers.get(a_right_init)

    def build(self, input_shape: Shape) -> None:
        shape = self._param_shape(input_shape)
        self.t_left = self.add_weight(shape, self.t_left_init, name="t_left")
        self.a_left = self.add_weight(shape, self.a_left_init, name="a_left")
        self.t_right = self.add_weight(shape, self.t_right_init, name="t_right")
        self.a_right = self.add_weight(shape, self.a_right_init, name="a_right")

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        t_left = self.t_left
        t_right = t_left + self.t_right.abs()
        below = self.a_left * (x - t_left).clamp(max=0)
        above = self.a_right * (x - t_right).clamp(min=0)
        return torch.clamp(x, t_left, t_right) + below + above

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "t_left_init": function_name(self.t_left_init),
            "a_left_init": function_name(self.a_left_init),
            "t_right_init": function_name(self.t_right_init),
            "a_right_init": function_name(self.a_right_init),
        }
