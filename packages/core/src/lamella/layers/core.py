"""Keras 1's core layers (``lamella.layers.core``): dense, shape and utility layers."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lamella import activations
from lamella.backend.config import floatx
from lamella.engine.callables import calls_gradients, dump_callable, load_callable
from lamella.engine.merge import Merge  # noqa: F401  (Keras 1 names of this module)
from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.engine.weight_arguments import WeightArguments, function_name
from lamella.utils.arguments import check_dim_ordering, check_int, invalid, is_int, is_size
from lamella.utils.generic_utils import (  # noqa: F401  (Keras 1 names of this module)
    func_dump,
    func_load,
    get_from_module,
)


def _affine(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x · W + b`` over the last axis of ``x`` (one fused kernel for 2D input)."""
    if b is None:
        return x @ W
    if x.dim() == 2:
        return torch.addmm(b, x, W)
    return x @ W + b


class _Affine(WeightArguments, Layer):
    """The Keras arguments of a layer with a weight matrix W and, with ``bias``, a bias b.

    Dense, TimeDistributedDense, MaxoutDense and Highway take the same ones, so they
    are read, stored and written to the config in one place.
    """

    def __init__(
        self,
        *,
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
        # A bad input_dim is refused after Layer.__init__, when the error can name the layer.
        if input_dim is not None and "input_shape" not in kwargs and is_size(input_dim):
            kwargs["input_shape"] = (input_dim,)
        super().__init__(**kwargs)
        if input_dim is not None:
            check_int(self, "input_dim", input_dim)
        self.input_dim = input_dim
        self.set_weight_arguments(
            weights=weights,
            bias=bias,
            init=init,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
        )

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
        return self.add_keras_weight(shape, self.init, "W")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **self.weight_config(
                "init",
                "W_regularizer",
                "b_regularizer",
                "activity_regularizer",
                "W_constraint",
                "b_constraint",
                "bias",
            ),
            "input_dim": self.input_dim,
        }


class Dense(_Affine):
    """A fully connected layer: ``activation(x · W + b)`` over the last axis, W of shape (in, n).

    The usual first layer of a multilayer perceptron: ``Dense(64, input_dim=784)``.

    Args:
        output_dim: The number of units: the size of the last output axis.
        init: How W is initialized: a registered initializer name (default
            ``'glorot_uniform'``) or a function of a shape. b starts at zeros.
        activation: The activation applied to the result, a registered name
            (``'relu'``) or a function of a tensor (default None: linear, the
            affine map as it is).
        weights: Initial values as numpy arrays, ``[W, b]`` (``[W]`` without a
            bias), used instead of ``init``.
        W_regularizer: A penalty on W added to the training loss (``l2(0.01)``,
            a name or a config), or None.
        b_regularizer: The same for b.
        activity_regularizer: A penalty on the layer's output, or None.
        W_constraint: A constraint applied to W after each update
            (``maxnorm(2)``), or None.
        b_constraint: The same for b.
        bias: Whether the layer adds a bias b (default True).
        input_dim: The size of the last input axis; for the first layer of a
            model, a short way of writing ``input_shape=(input_dim,)``.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, ..., input_dim)``, at least 2D; most often ``(batch, input_dim)``.

    Output shape:
        ``(batch, ..., output_dim)``.
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
        **kwargs: Any,
    ):
        super().__init__(
            init=init,
            weights=weights,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            input_dim=input_dim,
            **kwargs,
        )
        self.output_dim = check_int(self, "output_dim", output_dim)
        self.activation = activations.get(activation)
        self.input_spec = [InputSpec(ndim="2+")]
        self.supports_masking = True

    def build(self, input_shape: Shape) -> None:
        self.W = self._add_W((self._known_input_dim(input_shape), self.output_dim))
        self.b = self.add_bias((self.output_dim,))

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.activation(_affine(x, self.W, self.b))

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "activation": function_name(self.activation),
        }


class Activation(Layer):
    """Applies an activation function (a registered name or any callable).

    Args:
        activation: The function, by registered name (``'relu'``, ``'softmax'``,
            a plugin's name) or as a callable of a tensor.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": function_name(self.activation)}


class Dropout(Layer):
    """Drops a fraction ``p`` of the inputs while training, scaling the rest by 1/(1-p).

    Outside training (``predict``, ``evaluate``) it passes its input through, so
    the expected value of each unit is the same in both.

    Args:
        p: The fraction of the input units set to zero, between 0 and 1; 0
            turns the layer off.
        noise_shape: The shape of the keep-or-drop mask, batch axis included,
            broadcast over the input; ``None`` in it takes the input's size. A 1
            shares one draw along that axis (``(None, 1, None)`` drops the same
            features at every timestep). Default None: one draw per value.
        seed: Accepted for Keras 1 programs; the draws come from torch's global
            generator, which ``torch.manual_seed`` seeds.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

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
    """Flattens every axis but the batch axis (C order: 'th' maps flatten channel-major).

    Args:
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, d1, d2, ...)``, every size after the batch axis known.

    Output shape:
        ``(batch, d1 * d2 * ...)``.
    """

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

    Args:
        p: The fraction of the channels set to zero while training, between 0
            and 1; the kept ones are scaled by 1/(1-p).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, channels)``.

    Output shape:
        The input shape.
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
        self.dim_ordering = check_dim_ordering(self, dim_ordering)
        cells = (1,) * self.rank
        channels_first = self.dim_ordering == "th"
        self.noise_shape = (None, None, *cells) if channels_first else (None, *cells, None)
        self.input_spec = [InputSpec(ndim=self.rank + 2)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dim_ordering": self.dim_ordering}


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images: 'th' (b, channels, rows, cols), 'tf' channels last.

    Adjacent pixels of a feature map are strongly correlated, so plain dropout
    barely regularizes a convolutional network; dropping whole maps does.

    Args:
        p: The fraction of the feature maps set to zero while training, between
            0 and 1; the kept ones are scaled by 1/(1-p).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, rows, cols)`` with ``'th'``, ``(batch, rows, cols,
        channels)`` with ``'tf'``.

    Output shape:
        The input shape.
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes: 'th' (b, channels, d1, d2, d3), 'tf' channels last.

    Args:
        p: The fraction of the feature volumes set to zero while training,
            between 0 and 1; the kept ones are scaled by 1/(1-p).
        dim_ordering: Where the channel axis is: ``'th'`` (after the batch axis),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting, ``'th'`` unless configured.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, channels, d1, d2, d3)`` with ``'th'``, ``(batch, d1, d2, d3,
        channels)`` with ``'tf'``.

    Output shape:
        The input shape.
    """

    rank = 3


class Reshape(Layer):
    """Reshapes each sample to ``target_shape``; one entry may be -1, inferred from the size.

    Args:
        target_shape: The new shape of a sample, without the batch axis, as a
            tuple of positive integers with at most one -1.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any, with as many values per sample as ``target_shape`` holds.

    Output shape:
        ``(batch, *target_shape)``.
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        target = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else None
        if (
            target is None
            or not all(is_int(d) and (d > 0 or d == -1) for d in target)
            or target.count(-1) > 1
        ):
            raise invalid(
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
    """Reorders the axes of each sample: ``dims`` counts them from 1 (the batch stays first).

    ``Permute((2, 1))`` swaps the two axes of (batch, steps, features) input, for
    instance to feed the features to a recurrent layer as timesteps.

    Args:
        dims: The new order of the input axes, a permutation of 1 ... n.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, d1, ..., dn)``, n the length of ``dims``.

    Output shape:
        The input axes in the order ``dims`` gives, the batch axis first:
        ``(batch, d2, d1)`` for ``dims=(2, 1)``.
    """

    def __init__(self, dims: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        order = tuple(dims) if isinstance(dims, (list, tuple)) else ()
        if not order or sorted(order) != list(range(1, len(order) + 1)):
            raise invalid(
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
    """Repeats each (features,) sample ``n`` times: (batch, f) -> (batch, n, f).

    The bridge from one vector to a sequence, as in an encoder-decoder that feeds
    its code to every step of the decoder.

    Args:
        n: How many times each sample is repeated.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, features)``.

    Output shape:
        ``(batch, n, features)``.
    """

    def __init__(self, n: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.n = check_int(self, "n", n)
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
    output shape is found by running the function on shape-only tensors, and
    failing that is the input shape.

    Args:
        function: The function of the input tensor (of the list of tensors, when
            the layer is called on a list), returning a tensor.
        output_shape: A tuple, the shape of an output sample; or a function of
            the input shape, batch axis included, returning the output shape.
            Default None: inferred as above.
        arguments: Keyword arguments passed to ``function`` on every call
            (default: none).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Whatever ``function`` takes.

    Output shape:
        Given by ``output_shape``, or inferred as above.
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

    Args:
        mask_value: The value that marks padding (default 0.0).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, features)``, or any shape whose last axis holds the
        features of a step.

    Output shape:
        The input shape.
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
    """Passes its input through unchanged, adding ``l1·Σ|x| + l2·Σx²`` to the training loss.

    Args:
        l1: The factor of the L1 penalty on the activity (default 0.0: none).
        l2: The factor of the L2 penalty on the activity (default 0.0: none).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any.

    Output shape:
        The input shape.
    """

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

    Args:
        output_dim: The number of units: the size of the last output axis.
        init: How W is initialized, as in ``Dense`` (default ``'glorot_uniform'``).
        activation: The activation, as in ``Dense`` (default None: linear).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias).
        W_regularizer: A penalty on W, as in ``Dense``.
        b_regularizer: A penalty on b.
        activity_regularizer: A penalty on the layer's output.
        W_constraint: A constraint on W, as in ``Dense``.
        b_constraint: A constraint on b.
        bias: Whether the layer adds a bias b (default True).
        input_dim: The size of the last input axis; with ``input_length``, a
            first layer's short way of writing ``input_shape=(input_length,
            input_dim)``.
        input_length: The number of timesteps, when it is fixed.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, steps, input_dim)``.

    Output shape:
        ``(batch, steps, output_dim)``.
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
            and is_size(input_dim)
            and is_size(input_length)
        ):
            kwargs["input_shape"] = (input_length, input_dim)
        super().__init__(
            output_dim,
            init=init,
            activation=activation,
            weights=weights,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            input_dim=input_dim,
            **kwargs,
        )
        if input_length is not None:
            check_int(self, "input_length", input_length)
        self.input_length = input_length
        self.input_spec = [InputSpec(ndim=3)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_length": self.input_length}


class MaxoutDense(_Affine):
    """The maximum of ``nb_feature`` affine maps: ``max_k(x · W[k] + b[k])``, a learned
    piecewise-linear activation; W (nb_feature, in, n), b (nb_feature, n), 2D input.

    Args:
        output_dim: The number of units: the size of the output axis.
        nb_feature: How many affine maps each unit takes the maximum of (default 4).
        init: How W is initialized, as in ``Dense`` (default ``'glorot_uniform'``).
        weights: Initial values ``[W, b]`` (``[W]`` without a bias).
        W_regularizer: A penalty on W, as in ``Dense``.
        b_regularizer: A penalty on b.
        activity_regularizer: A penalty on the layer's output.
        W_constraint: A constraint on W, as in ``Dense``.
        b_constraint: A constraint on b.
        bias: Whether the maps add a bias b (default True).
        input_dim: The size of the input axis; for the first layer of a model, a
            short way of writing ``input_shape=(input_dim,)``.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, input_dim)``.

    Output shape:
        ``(batch, output_dim)``.
    """

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
            init=init,
            weights=weights,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            input_dim=input_dim,
            **kwargs,
        )
        self.output_dim = check_int(self, "output_dim", output_dim)
        self.nb_feature = check_int(self, "nb_feature", nb_feature)
        self.input_spec = [InputSpec(ndim=2)]

    def build(self, input_shape: Shape) -> None:
        input_dim = self._known_input_dim(input_shape)
        self.W = self._add_W((self.nb_feature, input_dim, self.output_dim))
        self.b = self.add_bias((self.nb_feature, self.output_dim))

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

    Args:
        init: How W and W_carry are initialized, as in ``Dense`` (default
            ``'glorot_uniform'``).
        activation: The activation of the transform, as in ``Dense`` (default
            None: linear).
        weights: Initial values ``[W, W_carry, b, b_carry]`` (``[W, W_carry]``
            without a bias).
        W_regularizer: A penalty on W (not W_carry), as in ``Dense``.
        b_regularizer: A penalty on b.
        activity_regularizer: A penalty on the layer's output.
        W_constraint: A constraint on W, as in ``Dense``.
        b_constraint: A constraint on b.
        bias: Whether the transform and the gate add biases (default True).
        input_dim: The size of the input axis; for the first layer of a model, a
            short way of writing ``input_shape=(input_dim,)``.
        **kwargs: The common layer arguments (see ``Layer``). Keras 1's
            ``transform_bias`` is accepted with a warning and ignored.

    Input shape:
        ``(batch, input_dim)``.

    Output shape:
        ``(batch, input_dim)``.
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
            init=init,
            weights=weights,
            W_regularizer=W_regularizer,
            b_regularizer=b_regularizer,
            activity_regularizer=activity_regularizer,
            W_constraint=W_constraint,
            b_constraint=b_constraint,
            bias=bias,
            input_dim=input_dim,
            **kwargs,
        )
        self.activation = activations.get(activation)
        self.input_spec = [InputSpec(ndim=2)]

    def build(self, input_shape: Shape) -> None:
        input_dim = self._known_input_dim(input_shape)
        self.W = self._add_W((input_dim, input_dim))
        self.W_carry = self.add_weight((input_dim, input_dim), self.init, name="W_carry")
        self.b = self.add_bias((input_dim,))
        self.b_carry = self.add_weight((input_dim,), "one", name="b_carry") if self.bias else None

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        transform = torch.sigmoid(_affine(x, self.W_carry, self.b_carry))
        return self.activation(_affine(x, self.W, self.b)) * transform + x * (1.0 - transform)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": function_name(self.activation)}
