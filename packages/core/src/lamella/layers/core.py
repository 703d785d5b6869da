"""Keras 1's core layers (``lamella.layers.core``): dense, shape and utility layers."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lamella import activations
from lamella.backend.config import floatx, image_dim_ordering
from lamella.engine.callables import calls_gradients, dump_callable, load_callable
from lamella.engine.merge import Merge  # noqa: F401  (Keras 1 names of this module)
from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.utils.generic_utils import (  # noqa: F401  (Keras 1 names of this module)
    func_dump,
    func_load,
    get_from_module,
)


def _serialize(obj: Any) -> Any:
    """A regularizer or constraint as its Keras config dict (None stays None)."""
    return obj.get_config() if obj is not None else None


def _activation_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _invalid(layer: Layer, arg: str, expected: str, got: Any) -> ValueError:
    """The error for a bad argument: the layer, the argument, what it takes, what it got."""
    return ValueError(f"{type(layer).__name__} {layer.name}: {arg} must be {expected}, got {got!r}")


def _is_size(value: Any) -> bool:
    """Whether ``value`` may become a size of ``input_shape`` (checked again, by name, after
    ``Layer.__init__``, so that the error names the argument the user wrote)."""
    return value is None or (_is_int(value) and value > 0)


def _positive_int(layer: Layer, arg: str, value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise _invalid(layer, arg, "a positive integer", value)
    return int(value)


def _affine(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x · W + b`` over the last axis of ``x`` (one fused kernel for 2D input)."""
    if b is None:
        return x @ W
    if x.dim() == 2:
        return torch.addmm(b, x, W)
    return x @ W + b


class _Affine(Layer):
    """The Keras arguments of a layer with a weight matrix W and, with ``bias``, a bias b.

    Dense, TimeDistributedDense, MaxoutDense and Highway take the same ones, so they
    are read, stored and written to the config in one place.
    """

    def __init__(
        self,
        init: Any,
        weights: list[Any] | None,
        W_regularizer: Any,
        b_regularizer: Any,
        activity_regularizer: Any,
        W_constraint: Any,
        b_constraint: Any,
        bias: bool,
        input_dim: int | None,
        **kwargs: Any,
    ):
        from lamella import constraints, initializers, regularizers

        if input_dim is not None and "input_shape" not in kwargs and _is_size(input_dim):
            kwargs["input_shape"] = (input_dim,)
        super().__init__(**kwargs)
        if input_dim is not None:
            _positive_int(self, "input_dim", input_dim)
        self.input_dim = input_dim
        self.init = initializers.get(init)
        self.W_regularizer = regularizers.get(W_regularizer)
        self.b_regularizer = regularizers.get(b_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.W_constraint = constraints.get(W_constraint)
        self.b_constraint = constraints.get(b_constraint)
        self.bias = bias
        self._initial_weights = weights

    def _known_input_dim(self, input_shape: Shape) -> int:
        """The size of the last input axis; ``self.input_dim`` keeps what the user gave,
        so a config read back writes the same config."""
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} {self.name}: the last input axis must be known, "
                f"got input shape {input_shape}"
            )
        return input_dim

    def _add_W(self, shape: Sequence[int]) -> torch.Tensor:
        return self.add_weight(
            shape, self.init, name="W", regularizer=self.W_regularizer, constraint=self.W_constraint
        )

    def _add_b(self, shape: Sequence[int]) -> torch.Tensor | None:
        if not self.bias:
            return None
        return self.add_weight(
            shape, "zero", name="b", regularizer=self.b_regularizer, constraint=self.b_constraint
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "init": _activation_name(self.init),
            "W_regularizer": _serialize(self.W_regularizer),
            "b_regularizer": _serialize(self.b_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "W_constraint": _serialize(self.W_constraint),
            "b_constraint": _serialize(self.b_constraint),
            "bias": self.bias,
            "input_dim": self.input_dim,
        }


class Dense(_Affine):
    """A fully connected layer: ``activation(x · W + b)`` over the last axis, W of shape (in, n)."""

    def __init__(
        self,
        output_dim: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        input_dim: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            init,
            weights,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            input_dim,
            **kwargs,
        )
        self.output_dim = _positive_int(self, "output_dim", output_dim)
        self.activation = activations.get(activation)
        self.input_spec = [InputSpec(ndim="2+")]
        self.supports_masking = True

    def build(self, input_shape: Shape) -> None:
        self.W = self._add_W((self._known_input_dim(input_shape), self.output_dim))
        self.b = self._add_b((self.output_dim,))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.activation(_affine(x, self.W, self.b))

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "activation": _activation_name(self.activation),
        }


class Activation(Layer):
    """Applies an activation function (a registered name or any callable)."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": _activation_name(self.activation)}


class Dropout(Layer):
    """Drops a fraction ``p`` of the inputs while training, scaling the rest by 1/(1-p)."""

    def __init__(
        self, p: float, noise_shape: Shape | None = None, seed: int | None = None, **kwargs: Any
    ):
        super().__init__(**kwargs)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout {self.name}: p must be in [0, 1], got {p!r}")
        self.p = p
        self.noise_shape = noise_shape
        self.seed = seed
        self.supports_masking = True
        self.uses_learning_phase = 0.0 < p < 1.0

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if not (self.training and 0.0 < self.p < 1.0):
            return x
        if self.noise_shape is None:
            return torch.nn.functional.dropout(x, self.p, training=True)
        shape = [x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "p": self.p}


class Flatten(Layer):
    """Flattens every axis but the batch axis (C order: 'th' maps flatten channel-major)."""

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape[1:]):
            raise ValueError(
                f"Flatten {self.name}: the input shape {input_shape} is not fully known; "
                "pass input_shape (or input_length) to the first layer of the model"
            )
        return (input_shape[0], math.prod(input_shape[1:]))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class SpatialDropout1D(Dropout):
    """Dropout of whole feature channels of (batch, steps, channels) input.

    Neighbouring steps are strongly correlated, so dropping single values barely
    regularizes; one draw per (sample, channel) drops a channel at every step.
    """

    def __init__(self, p: float, **kwargs: Any):
        super().__init__(p, **kwargs)
        self.noise_shape = (None, 1, None)
        self.input_spec = [InputSpec(ndim=3)]


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per (sample, channel), shared by every cell."""

    rank: int

    def __init__(self, p: float, dim_ordering: str = "default", **kwargs: Any):
        super().__init__(p, **kwargs)
        if dim_ordering == "default":
            dim_ordering = image_dim_ordering()
        if dim_ordering not in ("th", "tf"):
            raise _invalid(self, "dim_ordering", "'th', 'tf' or 'default'", dim_ordering)
        self.dim_ordering = dim_ordering
        cells = (1,) * self.rank
        self.noise_shape = (None, None, *cells) if dim_ordering == "th" else (None, *cells, None)
        self.input_spec = [InputSpec(ndim=self.rank + 2)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dim_ordering": self.dim_ordering}


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images: 'th' (b, channels, rows, cols), 'tf' channels last."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes: 'th' (b, channels, d1, d2, d3), 'tf' channels last."""

    rank = 3


class Reshape(Layer):
    """Reshapes each sample to ``target_shape``; one entry may be -1, inferred from the size."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        target = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else None
        if (
            target is None
            or not all(_is_int(d) and (d > 0 or d == -1) for d in target)
            or target.count(-1) > 1
        ):
            raise _invalid(
                self,
                "target_shape",
                "a tuple of positive integers with at most one -1",
                target_shape,
            )
        self.target_shape = tuple(int(d) for d in target)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        sample = input_shape[1:]
        if any(d is None for d in sample):  # nothing to check or infer before the data
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        size = math.prod(sample)
        fixed = math.prod(d for d in self.target_shape if d != -1)
        fits = size % fixed == 0 if -1 in self.target_shape else size == fixed
        if not fits:
            raise ValueError(
                f"Reshape {self.name}: an input sample of shape {tuple(sample)} has {size} "
                f"values, which cannot be reshaped to target_shape {self.target_shape}"
            )
        return (input_shape[0], *(size // fixed if d == -1 else d for d in self.target_shape))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Reorders the axes of each sample: ``dims`` counts them from 1 (the batch stays first)."""

    def __init__(self, dims: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        order = tuple(dims) if isinstance(dims, (list, tuple)) else ()
        if not order or sorted(order) != list(range(1, len(order) + 1)):
            raise _invalid(
                self, "dims", "a permutation of 1, ..., n (the input axes, batch excluded)", dims
            )
        self.dims = tuple(int(d) for d in order)
        self.input_spec = [InputSpec(ndim=len(self.dims) + 1)]

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x.permute(0, *self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeats each (features,) sample ``n`` times: (batch, f) -> (batch, n, f)."""

    def __init__(self, n: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.n = _positive_int(self, "n", n)
        self.input_spec = [InputSpec(ndim=2)]

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x.unsqueeze(1).repeat(1, self.n, 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Lambda(Layer):
    """Wraps any function of tensors as a layer: ``function(x, **arguments)``.

    ``output_shape`` is the shape of a sample (a tuple without the batch axis) or a
    function from the full input shape to the full output shape; without it the
    output shape is the input shape.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Sequence[int | None] | Callable[[Any], Shape] | None = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda {self.name}: function must be callable, got {function!r}")
        if not (output_shape is None or callable(output_shape)):
            if not isinstance(output_shape, (list, tuple)):
                raise TypeError(
                    f"Lambda {self.name}: output_shape must be a tuple (without the batch "
                    f"axis), a function of the input shape, or None; got {output_shape!r}"
                )
            output_shape = tuple(output_shape)
        self.function = function
        self._output_shape = output_shape
        self.arguments = dict(arguments or {})

    def get_output_shape_for(self, input_shape: Any) -> Any:
        if self._output_shape is None:
            inferred = self._inferred_shape(input_shape)
            if inferred is not None:
                return inferred
            if isinstance(input_shape, list):
                raise ValueError(
                    f"Lambda {self.name}: called on {len(input_shape)} inputs, so the output "
                    "shape cannot be taken from the input shape; pass output_shape"
                )
            return input_shape
        if callable(self._output_shape):
            shape = self._output_shape(input_shape)
            if not isinstance(shape, (list, tuple)):
                raise TypeError(
                    f"Lambda {self.name}: the output_shape function must return a tuple, "
                    f"got {shape!r}"
                )
            return tuple(shape)
        batch = (input_shape[0] if isinstance(input_shape, list) else input_shape)[0]
        return (batch, *self._output_shape)

    @property
    def needs_autograd(self) -> bool:
        return calls_gradients(self.function)

    def _inferred_shape(self, input_shape: Any) -> Any:
        """The output shape found by running the function on shape-only tensors (as Keras 1
        on TensorFlow does); None when the function cannot run that way."""
        from lamella.engine.operation import Slot, infer

        many = isinstance(input_shape, list)
        shapes = list(input_shape) if many else [input_shape]
        slots = [Slot(i) for i in range(len(shapes))]
        template = ((slots if many else slots[0],), {})
        try:
            out_shapes, _, structure = infer(self.call, template, shapes, [floatx()] * len(shapes))
        except ValueError:
            return None
        return out_shapes if isinstance(structure, (list, tuple)) else out_shapes[0]

    def call(self, x: Any, mask: Any = None) -> Any:
        return self.function(x, **self.arguments)

    def get_config(self) -> dict[str, Any]:
        function, function_type = dump_callable(self.function)
        shape = self._output_shape
        if callable(shape):
            output_shape, output_shape_type = dump_callable(shape)
        else:
            output_shape, output_shape_type = shape, "raw"
        return {
            **super().get_config(),
            "function": function,
            "function_type": function_type,
            "output_shape": output_shape,
            "output_shape_type": output_shape_type,
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Lambda:
        config = dict(config)
        name = config.get("name")
        owner = f"Lambda layer {name!r}"
        function = load_callable(
            owner,
            config.pop("function"),
            config.pop("function_type", "function"),
            custom_objects,
        )
        shape_type = config.pop("output_shape_type", "raw")
        if shape_type != "raw":
            config["output_shape"] = load_callable(
                owner, config["output_shape"], shape_type, custom_objects
            )
        return cls(function, **config)


class Masking(Layer):
    """Marks the timesteps whose features all equal ``mask_value`` as padding.

    The mask, ``any(x != mask_value)`` over the last axis, travels to the layers
    after it (recurrent layers skip the masked steps); masked steps are zeroed.
    """

    def __init__(self, mask_value: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return True

    def compute_mask(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return (x != self.mask_value).any(dim=-1)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return x * self.compute_mask(x).unsqueeze(-1).to(x.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


class ActivityRegularization(Layer):
    """Passes its input through unchanged, adding ``l1·Σ|x| + l2·Σx²`` to the training loss."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any):
        from lamella.regularizers import L1L2Regularizer

        super().__init__(**kwargs)
        self.l1 = l1
        self.l2 = l2
        self.activity_regularizer = L1L2Regularizer(l1=l1, l2=l2)
        self.supports_masking = True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


class TimeDistributedDense(Dense):
    """Dense applied to every timestep of (batch, steps, in) input, with one W (in, n) and b (n).

    Deprecated in Keras 1 in favour of ``TimeDistributed(Dense(...))``; kept so old
    models and weight files load.
    """

    def __init__(
        self,
        output_dim: int,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
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
        warnings.warn(
            "TimeDistributedDense is deprecated: use TimeDistributed(Dense(...)) instead",
            stacklevel=2,
        )
        if (
            input_dim is not None
            and "input_shape" not in kwargs
            and _is_size(input_dim)
            and _is_size(input_length)
        ):
            kwargs["input_shape"] = (input_length, input_dim)
        super().__init__(
            output_dim,
            init,
            activation,
            weights,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            input_dim,
            **kwargs,
        )
        if input_length is not None:
            _positive_int(self, "input_length", input_length)
        self.input_length = input_length
        self.input_spec = [InputSpec(ndim=3)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_length": self.input_length}


class MaxoutDense(_Affine):
    """The maximum of ``nb_feature`` affine maps: ``max_k(x · W[k] + b[k])``, a learned
    piecewise-linear activation; W (nb_feature, in, n), b (nb_feature, n), 2D input."""

    def __init__(
        self,
        output_dim: int,
        nb_feature: int = 4,
        init: Any = "glorot_uniform",
        weights: list[Any] | None = None,
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        input_dim: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            init,
            weights,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            input_dim,
            **kwargs,
        )
        self.output_dim = _positive_int(self, "output_dim", output_dim)
        self.nb_feature = _positive_int(self, "nb_feature", nb_feature)
        self.input_spec = [InputSpec(ndim=2)]

    def build(self, input_shape: Shape) -> None:
        input_dim = self._known_input_dim(input_shape)
        self.W = self._add_W((self.nb_feature, input_dim, self.output_dim))
        self.b = self._add_b((self.nb_feature, self.output_dim))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        features = torch.tensordot(x, self.W, dims=([1], [1]))  # (batch, nb_feature, n)
        if self.b is not None:
            features = features + self.b
        return features.amax(dim=1)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "nb_feature": self.nb_feature,
        }


class Highway(_Affine):
    """A gated layer: ``y = activation(x·W + b)·T + x·(1 - T)``.

    The gate ``T = sigmoid(x·W_carry + b_carry)`` decides, per unit, how much of the
    transformed input replaces the input itself; b_carry starts at ones, so the
    transform is favoured at first.
    Weights W, W_carry (in, in), b, b_carry (in).
    """

    def __init__(
        self,
        init: Any = "glorot_uniform",
        activation: Any = None,
        weights: list[Any] | None = None,
        W_regularizer: Any = None,
        b_regularizer: Any = None,
        activity_regularizer: Any = None,
        W_constraint: Any = None,
        b_constraint: Any = None,
        bias: bool = True,
        input_dim: int | None = None,
        **kwargs: Any,
    ):
        if "transform_bias" in kwargs:
            del kwargs["transform_bias"]
            warnings.warn(
                "Highway: the transform_bias argument is deprecated and ignored "
                "(b_carry starts at ones)",
                stacklevel=2,
            )
        super().__init__(
            init,
            weights,
            W_regularizer,
            b_regularizer,
            activity_regularizer,
            W_constraint,
            b_constraint,
            bias,
            input_dim,
            **kwargs,
        )
        self.activation = activations.get(activation)
        self.input_spec = [InputSpec(ndim=2)]

    def build(self, input_shape: Shape) -> None:
        input_dim = self._known_input_dim(input_shape)
        self.W = self._add_W((input_dim, input_dim))
        self.W_carry = self.add_weight((input_dim, input_dim), self.init, name="W_carry")
        self.b = self._add_b((input_dim,))
        self.b_carry = self.add_weight((input_dim,), "one", name="b_carry") if self.bias else None

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        transform = torch.sigmoid(_affine(x, self.W_carry, self.b_carry))
        return self.activation(_affine(x, self.W, self.b)) * transform + x * (1.0 - transform)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": _activation_name(self.activation)}
