"""Layers and the symbolic graph they build: the Keras 1 ``Layer`` on ``torch.nn.Module``.

A layer called on a :class:`KerasTensor` (what ``Input`` returns) builds its
weights from the known input shape and returns new symbolic tensors, so shapes,
``summary()`` and ``count_params()`` are known before any data is seen.  Called
on a ``torch.Tensor`` it computes.  Each symbolic call is recorded as a
:class:`Node`; models read those nodes to order their layers.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from lamella.backend.config import floatx
from lamella.backend.state import get_uid, learning_phase
from lamella.backend.symbolic import SymbolicTensor
from lamella.keras2.construct import speaking_keras2
from lamella.utils.messages import quoted

Shape = tuple[int | None, ...]


def to_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def unpack_singleton(xs: Sequence[Any]) -> Any:
    return xs[0] if len(xs) == 1 else list(xs)


class KerasTensor(SymbolicTensor):
    """A symbolic tensor: its shape (batch first, ``None`` where unknown) and origin.

    ``masked`` records whether a mask may travel with it (after
    ``Embedding(mask_zero=True)`` or ``Masking``), so layers that cannot take a
    mask are reported when the model is built, not at the first batch.

    Backend functions, torch functions and Python operators applied to it record graph
    nodes (:mod:`lamella.engine.operation`): ``K.mean(t)``, ``t[:, 0] * 2``, ``t > 0``.
    ``==`` stays identity, as for any Python object, so tensors can be looked up in lists.
    """

    __slots__ = ("dtype", "layer", "masked", "node_index", "shape", "tensor_index")
    __array_ufunc__ = None  # numpy defers to the operators below: array * tensor records

    def __init__(
        self,
        shape: Shape,
        dtype: str,
        layer: Layer,
        node_index: int,
        tensor_index: int,
        masked: bool = False,
    ):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.layer = layer
        self.node_index = node_index
        self.tensor_index = tensor_index
        self.masked = masked

    @property
    def _keras_shape(self) -> Shape:
        return self.shape

    @property
    def _keras_history(self) -> tuple[Layer, int, int]:
        return (self.layer, self.node_index, self.tensor_index)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str:
        return f"{self.layer.name}[{self.node_index}][{self.tensor_index}]"

    def __repr__(self) -> str:
        return f"<KerasTensor {self.name} shape={self.shape} dtype={self.dtype}>"

    @property
    def _uses_learning_phase(self) -> bool:
        """Whether the value depends on the learning phase (a Dropout upstream)."""
        pending, seen = [self], set()
        while pending:
            tensor = pending.pop()
            if tensor.layer.uses_learning_phase or isinstance(tensor, LearningPhaseTensor):
                return True
            node = tensor.layer.inbound_nodes[tensor.node_index]
            if id(node) not in seen:
                seen.add(id(node))
                pending.extend(node.inbound_tensors)
        return False

    # Tensor-like answers from the known shape, and torch's tensor methods as graph nodes.

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    @property
    def T(self) -> Any:
        return _operate("transpose", self)

    def __getattr__(self, name: str) -> Any:
        method = None if name.startswith("_") else getattr(torch.Tensor, name, None)
        if not callable(method):
            raise AttributeError(f"'KerasTensor' object has no attribute {name!r}")
        return functools.partial(_method, method, self)

    def __iter__(self) -> Any:
        raise TypeError(
            f"{self.name} is symbolic and cannot be iterated; index it (t[:, 0]) or use "
            "backend functions"
        )

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        from lamella.engine.operation import apply

        return apply(func, args, kwargs or {})

    def __getitem__(self, index: Any) -> Any:
        return _operate("getitem", self, index)

    def __add__(self, other: Any) -> Any:
        return _operate("add", self, other)

    def __radd__(self, other: Any) -> Any:
        return _operate("add", other, self)

    def __sub__(self, other: Any) -> Any:
        return _operate("subtract", self, other)

    def __rsub__(self, other: Any) -> Any:
        return _operate("subtract", other, self)

    def __mul__(self, other: Any) -> Any:
        return _operate("multiply", self, other)

    def __rmul__(self, other: Any) -> Any:
        return _operate("multiply", other, self)

    def __truediv__(self, other: Any) -> Any:
        return _operate("divide", self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _operate("divide", other, self)

    def __floordiv__(self, other: Any) -> Any:
        return _operate("floor_divide", self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _operate("floor_divide", other, self)

    def __mod__(self, other: Any) -> Any:
        return _operate("mod", self, other)

    def __rmod__(self, other: Any) -> Any:
        return _operate("mod", other, self)

    def __pow__(self, other: Any) -> Any:
        return _operate("power", self, other)

    def __rpow__(self, other: Any) -> Any:
        return _operate("power", other, self)

    def __matmul__(self, other: Any) -> Any:
        return _operate("matmul", self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _operate("matmul", other, self)

    def __and__(self, other: Any) -> Any:
        return _operate("logical_and", self, other)

    def __rand__(self, other: Any) -> Any:
        return _operate("logical_and", other, self)

    def __or__(self, other: Any) -> Any:
        return _operate("logical_or", self, other)

    def __ror__(self, other: Any) -> Any:
        return _operate("logical_or", other, self)

    def __xor__(self, other: Any) -> Any:
        return _operate("logical_xor", self, other)

    def __rxor__(self, other: Any) -> Any:
        return _operate("logical_xor", other, self)

    def __lt__(self, other: Any) -> Any:
        return _operate("less", self, other)

    def __le__(self, other: Any) -> Any:
        return _operate("less_equal", self, other)

    def __gt__(self, other: Any) -> Any:
        return _operate("greater", self, other)

    def __ge__(self, other: Any) -> Any:
        return _operate("greater_equal", self, other)

    def __neg__(self) -> Any:
        return _operate("negative", self)

    def __pos__(self) -> Any:
        return _operate("positive", self)

    def __abs__(self) -> Any:
        return _operate("absolute", self)

    def __invert__(self) -> Any:
        return _operate("invert", self)


def _operate(name: str, *args: Any) -> Any:
    from lamella.engine.operation import operate

    return operate(name, *args)


def _method(method: Any, tensor: KerasTensor, *args: Any, **kwargs: Any) -> Any:
    """``tensor.clamp(0, 1)`` and other torch tensor methods, recorded on the graph."""
    from lamella.engine.operation import apply

    return apply(method, (tensor, *args), kwargs)


def _inputs_key(inputs: Any) -> tuple[int, ...] | None:
    """Keras's key for "depends on these inputs": their identities (None: on nothing)."""
    return None if inputs is None else tuple(id(t) for t in to_list(inputs))


def is_symbolic(x: Any) -> bool:
    return any(isinstance(t, KerasTensor) for t in to_list(x))


class Node:
    """One call of ``outbound_layer`` on symbolic tensors.

    ``inbound_tensors`` are the graph's edges, the tensors the call consumed (none for an
    ``Input``); ``input_tensors`` is Keras's view, where an ``Input``'s node lists its own
    tensor.
    """

    def __init__(
        self,
        outbound_layer: Layer,
        input_tensors: list[KerasTensor],
        output_tensors: list[KerasTensor],
    ):
        self.outbound_layer = outbound_layer
        self.inbound_tensors = input_tensors
        self.output_tensors = output_tensors

    @property
    def input_tensors(self) -> list[KerasTensor]:
        return self.inbound_tensors or self.output_tensors

    @property
    def inbound_layers(self) -> list[Layer]:
        return [t.layer for t in self.inbound_tensors]

    @property
    def node_indices(self) -> list[int]:
        return [t.node_index for t in self.inbound_tensors]

    @property
    def tensor_indices(self) -> list[int]:
        return [t.tensor_index for t in self.inbound_tensors]

    @property
    def input_masks(self) -> list[None]:
        """Keras 1's symbolic masks: lamella computes masks with the values, at run time."""
        return [None] * len(self.input_tensors)

    @property
    def output_masks(self) -> list[None]:
        return [None] * len(self.output_tensors)

    @property
    def input_shapes(self) -> list[Shape]:
        return [t.shape for t in self.input_tensors]

    @property
    def output_shapes(self) -> list[Shape]:
        return [t.shape for t in self.output_tensors]


class InputSpec:
    """What a layer accepts: ``ndim`` as an int or ``'2+'``, optionally dtype and shape."""

    def __init__(
        self, dtype: str | None = None, shape: Shape | None = None, ndim: int | str | None = None
    ):
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim

    def check(self, layer: Layer, shape: Shape) -> None:
        ndim = self.ndim
        if isinstance(ndim, str):
            least = int(ndim.rstrip("+"))
            if len(shape) < least:
                raise ValueError(
                    f"Input of layer {layer.name} ({type(layer).__name__}) must have at least "
                    f"{least} dimensions (batch included), got shape {shape}"
                )
        elif ndim is not None and len(shape) != ndim:
            raise ValueError(
                f"Input of layer {layer.name} ({type(layer).__name__}) must have {ndim} "
                f"dimensions (batch included), got shape {shape}"
            )
        if self.shape is not None:
            for expected, got in zip(self.shape, shape, strict=True):
                if expected is not None and got is not None and expected != got:
                    raise ValueError(
                        f"Input of layer {layer.name} ({type(layer).__name__}) must have "
                        f"shape {self.shape}, got {shape}"
                    )


_LAYER_KWARGS = frozenset({"input_shape", "batch_input_shape", "input_dtype", "name", "trainable"})


def _shape_argument(layer: str, argument: str, value: Any) -> tuple[int | None, ...]:
    """``input_shape`` or ``batch_input_shape`` as a tuple, checked when the layer is made:
    a zero size or a string would otherwise build a layer that fails later, or never."""

    def is_size(size: Any) -> bool:
        return size is None or (
            isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0
        )

    if not isinstance(value, (list, tuple)) or not all(is_size(size) for size in value):
        hint = f" (for one axis write ({value},))" if isinstance(value, numbers.Integral) else ""
        raise ValueError(
            f"{layer}: {argument} must be a tuple of positive integers (None for a size "
            f"known only later), got {quoted(value)}{hint}"
        )
    return tuple(None if size is None else int(size) for size in value)


class Layer(nn.Module):
    """Base class of every layer, with the Keras 1 protocol for custom layers.

    Subclasses override ``build(input_shape)`` to make weights (with
    ``add_weight``, or an initializer and ``self.trainable_weights = [...]``),
    ``call(x, mask=None)`` for the maths, and ``get_output_shape_for(input_shape)``
    when the shape changes.  Attributes may be set before ``super().__init__``.

    Every layer takes the keyword arguments below; each layer's own docstring
    refers to them as "the common layer arguments".  Shapes count the batch axis
    first, and ``None`` stands for a size known only when data arrives.

    Args:
        input_shape: The shape of one sample, without the batch axis, as a tuple
            (``(784,)``, ``(3, 32, 32)``).  Only the first layer of a model needs
            it: later layers take their shape from the layer before.
        batch_input_shape: The same with the batch axis in front, for a layer
            that needs a fixed batch size (a stateful recurrent layer);
            ``(None, 784)`` equals ``input_shape=(784,)``.  It wins over
            ``input_shape`` when both are given.
        input_dtype: The dtype of the input a first layer expects (default: the
            backend's ``floatx()``, ``'int64'`` for ``Embedding``).
        name: The layer's name, unique within a model (default: the class name in
            lower case and a counter, ``dense_1``).  Weights are named after it.
        trainable: Whether a model compiled from now on trains this layer's
            weights (default True).
        input_dim: Not taken by every layer: ``Dense``, the 1D convolutions and
            the recurrent layers, which usually come first, take the size of the
            last input axis as a short way of writing ``input_shape`` (for
            ``Embedding`` it is the vocabulary size); each lists it among its own
            arguments.
        weights: Not taken by every layer: a layer with weights takes their
            initial values, a list of numpy arrays in the order of
            ``get_weights()``, applied when the layer is built; each such layer
            lists it among its own arguments.
    """

    #: Device types ("cpu", "cuda") where ``torch.compile`` makes this layer slower than
    #: eager, as measured in ``bench/``: ``compile(jit_compile=True)`` then leaves a model
    #: holding it eager there, with a warning.
    eager_on: ClassVar[frozenset[str]] = frozenset()
    #: Whether ``torch.func`` can differentiate this layer's ``call`` inside a traced graph.
    #: False for a layer that runs a hand-written ``autograd.Function`` or a kernel kept
    #: out of graphs: ``jit_compile`` then compiles the forward pass and loss of a model
    #: holding it, not the whole step (``engine/whole_step.py``).
    func_differentiable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A layer's ``build`` marks it built, so a layer built by hand
        (``layer.build(shape)``, as Keras 1 code does) is not built again when called; its
        ``__init__`` takes Keras 2's spellings too (:mod:`lamella.keras2.construct`)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "speaks_keras2", False):
            cls.__init__ = speaking_keras2(init)  # type: ignore[method-assign]
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):

            @functools.wraps(build)
            def build_and_mark(self: Layer, *args: Any, **kw: Any) -> None:
                build(self, *args, **kw)
                self.built = True

            build_and_mark._marks_built = True  # type: ignore[attr-defined]
            cls.build = build_and_mark  # type: ignore[method-assign]

    def __init__(self, **kwargs: Any):
        unknown = set(kwargs) - _LAYER_KWARGS
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: keyword argument(s) not understood: "
                f"{', '.join(sorted(unknown))}"
            )
        nn.Module.__init__(self)
        for attribute, default in (
            ("input_spec", None),
            ("supports_masking", False),
            ("uses_learning_phase", False),
            ("stateful", False),
            ("activity_regularizer", None),
        ):
            if not hasattr(self, attribute):
                object.__setattr__(self, attribute, default)
        pre_trainable = self.__dict__.pop("_pending_trainable", None)
        pre_non_trainable = self.__dict__.pop("_pending_non_trainable", None)
        self._trainable_weights: list[torch.Tensor] = []
        # Buffers are kept by name: .to() and .double() replace buffer objects.
        self._non_trainable_weights: list[torch.Tensor | str] = []
        self._buffer_names: dict[str, str] = {}
        # by the weight's registered name, read when the penalty is computed: a step that
        # runs the layer with other tensors for its weights (torch.func) penalizes those
        self._weight_regularizers: list[tuple[str, Any]] = []
        self.constraints: dict[torch.Tensor, Any] = {}
        self.inbound_nodes: list[Node] = []
        self.outbound_nodes: list[Node] = []
        self.built = False
        self._initial_weights: list[np.ndarray] | None = getattr(self, "_initial_weights", None)
        name = kwargs.get("name")
        if not name:
            prefix = type(self).__name__.lower()
            name = f"{prefix}_{get_uid(prefix)}"
        self.name = name
        self._trainable = bool(kwargs.get("trainable", True))
        described = f"{type(self).__name__} {name}"
        batch_input_shape = kwargs.get("batch_input_shape")
        if batch_input_shape is not None:
            batch_input_shape = _shape_argument(described, "batch_input_shape", batch_input_shape)
        elif kwargs.get("input_shape") is not None:
            input_shape = _shape_argument(described, "input_shape", kwargs["input_shape"])
            batch_input_shape = (None, *input_shape)
        self.batch_input_shape: Shape | None = batch_input_shape
        self.input_dtype: str = kwargs.get("input_dtype") or getattr(
            self, "default_input_dtype", floatx()
        )
        if pre_trainable is not None:
            self.trainable_weights = pre_trainable
        if pre_non_trainable is not None:
            self.non_trainable_weights = pre_non_trainable

    # -- the protocol subclasses implement ------------------------------------------

    def build(self, input_shape: Shape | list[Shape]) -> None:
        """Create the weights; called once, with the input shape (batch first)."""

    def call(self, x: Any, mask: Any = None) -> Any:
        """The layer's maths on real tensors."""
        return x

    def get_output_shape_for(self, input_shape: Any) -> Any:
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            return self.compute_output_shape(input_shape)
        return input_shape

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Keras 2's name for :meth:`get_output_shape_for`."""
        return self.get_output_shape_for(input_shape)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        if not self.supports_masking:
            if mask is not None and any(m is not None for m in to_list(mask)):
                raise TypeError(self._mask_refusal())
            return None
        return mask

    @property
    def needs_autograd(self) -> bool:
        """Whether computing this layer takes gradients itself (``K.gradients`` inside), so
        that it cannot run under ``torch.inference_mode``."""
        return False

    def output_dtypes(self, count: int) -> list[str]:
        """The dtypes of the symbolic outputs: floatx, unless a layer knows better."""
        return [floatx()] * count

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        """Whether a mask may leave this layer, given which inputs may carry one.

        Layers that make a mask (Embedding, Masking) override this; the default
        passes masks through layers that support them and refuses them otherwise.
        """
        if not any(inputs_masked):
            return type(self).compute_mask is not Layer.compute_mask
        if not self.supports_masking:
            raise TypeError(self._mask_refusal())
        return True

    def _mask_refusal(self) -> str:
        return (
            f"Layer {self.name} ({type(self).__name__}) does not support masking, but was "
            "passed an input mask (from Embedding(mask_zero=True) or Masking upstream)"
        )

    # -- weights ----------------------------------------------------------------------

    def add_weight(
        self,
        shape: Sequence[int],
        initializer: Any,
        name: str | None = None,
        trainable: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
    ) -> torch.Tensor:
        """Create, register and return a weight named ``<layer>_<name>``."""
        from lamella import constraints as constraint_module
        from lamella import initializers, regularizers

        key = name or f"weight_{len(self._trainable_weights) + len(self._non_trainable_weights)}"
        value = initializers.initial_value(
            initializers.get(initializer),
            shape,
            f"{self.name}_{key}",
            f"{type(self).__name__} {self.name}",
        )
        if trainable:
            weight = value if isinstance(value, nn.Parameter) else nn.Parameter(value)
            weight.requires_grad_(self._trainable)
            self.register_parameter(key, weight)
            self._trainable_weights.append(weight)
        else:
            weight = value.detach().clone() if isinstance(value, nn.Parameter) else value
            self.register_buffer(key, weight)
            self._buffer_names[key] = f"{self.name}_{key}"
            self._non_trainable_weights.append(key)
        weight._keras_name = f"{self.name}_{key}"
        if regularizer is not None:
            self._weight_regularizers.append((key, regularizers.get(regularizer)))
        if constraint is not None:
            self.constraints[weight] = constraint_module.get(constraint)
        return weight

    def _adopt(self, weights: Sequence[torch.Tensor], trainable: bool) -> list[torch.Tensor | str]:
        """Register weights assigned by a custom layer (``self.trainable_weights = [...]``).

        Returns Parameters as themselves and buffers by name (see ``_live``).
        """
        buffer_keys = {id(t): k for k, t in self._buffers.items() if t is not None}
        parameter_ids = {id(t) for t in self.parameters(recurse=False)}
        adopted: list[torch.Tensor | str] = []
        for index, weight in enumerate(weights):
            if id(weight) in buffer_keys:
                adopted.append(buffer_keys[id(weight)])
                continue
            if id(weight) not in parameter_ids:
                base = getattr(weight, "_keras_name", None) or f"weight_{index}"
                key = base[len(self.name) + 1 :] if base.startswith(self.name + "_") else base
                key = key.replace(".", "_")
                while key in self._parameters or key in self._buffers:
                    key += "_"
                if trainable or isinstance(weight, nn.Parameter):
                    if not isinstance(weight, nn.Parameter):
                        weight = nn.Parameter(weight)
                    self.register_parameter(key, weight)
                else:
                    self.register_buffer(key, weight)
                    self._buffer_names[key] = getattr(weight, "_keras_name", f"{self.name}_{key}")
                    adopted.append(key)
                    continue
                if not hasattr(weight, "_keras_name"):
                    weight._keras_name = f"{self.name}_{key}"
            adopted.append(weight)
        return adopted

    def _live(self, slot: torch.Tensor | str) -> torch.Tensor:
        """The current tensor of a weight slot: a Parameter, or a buffer found by name."""
        if not isinstance(slot, str):
            return slot
        tensor = self._buffers[slot]
        if not hasattr(tensor, "_keras_name"):
            tensor._keras_name = self._buffer_names[slot]
        return tensor

    @property
    def trainable(self) -> bool:
        """Keras's flag: whether a model compiled from now on trains this layer's weights.

        As in Keras 1, a model's flag leaves its layers' own flags alone, and models
        compiled earlier keep the weights they were compiled with.  ``requires_grad``
        follows at once, for torch code around the layer: a weight requires grad when
        this layer and every layer on a path from here down to it are trainable.
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        from lamella.engine.trainability import flags_changed

        self._trainable = bool(value)
        reached: list[torch.Tensor] = []
        switched_on: set[int] = set()
        pending: list[tuple[Layer, bool]] = [(self, self._trainable)]
        while pending:
            layer, on = pending.pop()
            reached.extend(layer._trainable_weights)
            if on:
                switched_on.update(id(w) for w in layer._trainable_weights)
            pending.extend((inner, on and inner._trainable) for inner in layer._sublayers())
        for weight in reached:
            weight.requires_grad_(id(weight) in switched_on)
        flags_changed()

    def _sublayers(self) -> list[Layer]:
        return []

    @property
    def trainable_weights(self) -> list[torch.Tensor]:
        if not self._trainable:
            return []
        own = list(self._trainable_weights)
        for layer in self._sublayers():
            own.extend(w for w in layer.trainable_weights if all(w is not o for o in own))
        return own

    @trainable_weights.setter
    def trainable_weights(self, weights: Sequence[torch.Tensor]) -> None:
        if "_parameters" not in self.__dict__:  # assigned before super().__init__
            object.__setattr__(self, "_pending_trainable", list(weights))
            return
        self._trainable_weights = [self._live(w) for w in self._adopt(weights, trainable=True)]
        for weight in self._trainable_weights:
            weight.requires_grad_(self._trainable)

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        """Weights not trained: buffers, after (when the layer is frozen) those it would train."""
        held = list(self._trainable_weights)
        kept = [self._live(slot) for slot in self._non_trainable_weights]
        for layer in self._sublayers():
            if not self._trainable:
                held.extend(w for w in layer.trainable_weights if all(w is not o for o in held))
            kept.extend(w for w in layer.non_trainable_weights if all(w is not o for o in kept))
        return kept if self._trainable else held + kept

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights: Sequence[torch.Tensor]) -> None:
        if "_parameters" not in self.__dict__:
            object.__setattr__(self, "_pending_non_trainable", list(weights))
            return
        self._non_trainable_weights = self._adopt(weights, trainable=False)

    @property
    def weights(self) -> list[torch.Tensor]:
        return self.trainable_weights + self.non_trainable_weights

    def get_weights(self) -> list[np.ndarray]:
        """The weights as numpy arrays, in Keras's order (trainable first)."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        own = self.weights
        if len(own) != len(weights):
            raise ValueError(
                f"Layer {self.name} ({type(self).__name__}) has {len(own)} weight arrays "
                f"but set_weights got {len(weights)}"
            )
        with torch.no_grad():
            for index, (target, value) in enumerate(zip(own, weights, strict=True)):
                value = np.asarray(value)
                if tuple(target.shape) != value.shape:
                    raise ValueError(
                        f"Layer {self.name} ({type(self).__name__}): weight {index} "
                        f"({getattr(target, '_keras_name', '?')}) has shape "
                        f"{tuple(target.shape)}, set_weights got shape {value.shape}"
                    )
                target.copy_(torch.as_tensor(value, dtype=target.dtype))

    def count_params(self) -> int:
        if not self.built:
            raise RuntimeError(
                f"Layer {self.name} is not built yet: call it on an input (or add it to a "
                "model) so its weights exist"
            )
        return sum(int(w.numel()) for w in self.weights)

    def penalties(self) -> list[torch.Tensor]:
        """Weight regularization penalties of this layer and the layers inside it (a
        wrapper's, a model's), added to the training loss."""
        found = [regularizer(getattr(self, key)) for key, regularizer in self._weight_regularizers]
        for layer in self._sublayers():
            found.extend(layer.penalties())
        return found

    # -- losses and updates -------------------------------------------------------------
    #
    # Keras 1 lists a layer's extra losses and state updates, keyed by the inputs they
    # depend on (None: unconditional).  lamella computes weight and activity
    # regularization in the training step itself; ``losses`` lists them too (the weight
    # penalties from the current weights, the activity ones as symbolic tensors), and
    # ``add_loss`` adds more, which the training step evaluates.

    def add_loss(self, losses: Any, inputs: Any = None) -> None:
        """Add loss tensors (symbolic, or zero-argument callables) that depend on ``inputs``."""
        if losses is not None:
            self._extra("_added_losses").setdefault(_inputs_key(inputs), []).extend(to_list(losses))

    def add_update(self, updates: Any, inputs: Any = None) -> None:
        """Add ``(variable, new_value)`` updates that depend on ``inputs``."""
        if updates is not None:
            self._extra("_added_updates").setdefault(_inputs_key(inputs), []).extend(
                to_list(updates)
            )

    def get_losses_for(self, inputs: Any) -> list[Any]:
        key = _inputs_key(inputs)
        found = list(self._extra("_added_losses").get(key, []))
        if key is None:
            found += self.penalties()
        else:
            found += [loss for node in self._nodes_for(key) for loss in self._activity_losses(node)]
        return found

    def get_updates_for(self, inputs: Any) -> list[Any]:
        key = _inputs_key(inputs)
        found = list(self._extra("_added_updates").get(key, []))
        if key is not None:
            found += [update for node in self._nodes_for(key) for update in self.node_updates(node)]
        return found

    @property
    def losses(self) -> list[Any]:
        found = [loss for group in self._extra("_added_losses").values() for loss in group]
        found += self.penalties()
        for node in self.inbound_nodes:
            found += self._activity_losses(node)
        return found

    @losses.setter
    def losses(self, value: Sequence[Any]) -> None:
        self.__dict__["_added_losses"] = {None: list(value)}

    @property
    def updates(self) -> list[Any]:
        found = [update for group in self._extra("_added_updates").values() for update in group]
        for node in self.inbound_nodes:
            found += self.node_updates(node)
        return found

    @updates.setter
    def updates(self, value: Sequence[Any]) -> None:
        self.__dict__["_added_updates"] = {None: list(value)}

    def node_updates(self, node: Node) -> list[Any]:
        """The ``(variable, new_value)`` updates one call makes by itself (batch statistics)."""
        return []

    def _extra(self, attribute: str) -> dict[Any, list[Any]]:
        found = self.__dict__.get(attribute)
        if found is None:
            found = self.__dict__[attribute] = {}
        return found

    def _nodes_for(self, key: tuple[int, ...]) -> list[Node]:
        return [
            node
            for node in self.inbound_nodes
            if node.inbound_tensors and _inputs_key(node.inbound_tensors) == key
        ]

    def _activity_losses(self, node: Node) -> list[Any]:
        """The activity regularization of one call, as symbolic tensors (made once)."""
        if self.activity_regularizer is None or not node.inbound_tensors:
            return []
        cache = self._extra("_activity_loss_cache")
        if id(node) not in cache:
            from lamella.engine.operation import apply

            cache[id(node)] = [
                apply(self.activity_regularizer, (tensor,), {}) for tensor in node.output_tensors
            ]
        return cache[id(node)]

    # -- configuration ----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
            config["input_dtype"] = self.input_dtype
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    # -- calling ----------------------------------------------------------------------

    def __call__(self, x: Any, mask: Any = None, **kwargs: Any) -> Any:
        if is_symbolic(x):
            return self._call_symbolic(x)
        if not self.built or self._initial_weights is not None:
            self._ensure_built(unpack_singleton([(None, *t.shape[1:]) for t in to_list(x)]))
        return nn.Module.__call__(self, x, mask, **kwargs)

    def forward(self, x: Any, mask: Any = None) -> Any:
        if mask is not None and self._call_takes_mask():
            return self.call(x, mask)
        return self.call(x)

    def _call_takes_mask(self) -> bool:
        takes = self.__dict__.get("_takes_mask")
        if takes is None:
            takes = "mask" in inspect.signature(self.call).parameters
            self.__dict__["_takes_mask"] = takes
        return takes

    def _ensure_built(self, input_shape: Any) -> None:
        """Build for ``input_shape`` unless built, then apply any ``weights=`` given."""
        if not self.built:
            self.build(input_shape)
        self._finish_build()

    def _finish_build(self) -> None:
        self.built = True
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def _call_symbolic(self, x: Any) -> Any:
        inputs = to_list(x)
        for tensor in inputs:
            if not isinstance(tensor, KerasTensor):
                raise TypeError(
                    f"Layer {self.name} was called on a mix of symbolic and real tensors: "
                    f"got {type(tensor).__name__}"
                )
        shapes = [t.shape for t in inputs]
        shape_arg = unpack_singleton(shapes)
        if self.input_spec is not None:
            specs = to_list(self.input_spec)
            for spec, shape in zip(specs, shapes, strict=False):
                if spec is not None:
                    spec.check(self, shape)
        if not self.built or self._initial_weights is not None:
            self._ensure_built(shape_arg)
        output_shape = self.get_output_shape_for(shape_arg)
        masked = self.output_masked([t.masked for t in inputs])
        node_index = len(self.inbound_nodes)
        many = isinstance(output_shape, list)
        output_shapes = output_shape if many else [output_shape]
        outputs = [
            KerasTensor(tuple(s), dtype, self, node_index, i, masked)
            for i, (s, dtype) in enumerate(
                zip(output_shapes, self.output_dtypes(len(output_shapes)), strict=True)
            )
        ]
        node = Node(self, inputs, outputs)
        self.inbound_nodes.append(node)
        for tensor in inputs:
            tensor.layer.outbound_nodes.append(node)
        return outputs if many else outputs[0]

    # -- graph properties ---------------------------------------------------------------

    def _node(self, index: int, what: str) -> Node:
        if not self.inbound_nodes:
            raise AttributeError(
                f"Layer {self.name} has no {what} yet: it has not been called on an input"
            )
        if len(self.inbound_nodes) > 1 and index is None:
            raise AttributeError(
                f"Layer {self.name} has been called {len(self.inbound_nodes)} times; use "
                f"get_{what}_at(node_index)"
            )
        return self.inbound_nodes[index or 0]

    def get_input_at(self, node_index: int) -> Any:
        return unpack_singleton(self._node(node_index, "input").input_tensors)

    def get_output_at(self, node_index: int) -> Any:
        return unpack_singleton(self._node(node_index, "output").output_tensors)

    def get_input_mask_at(self, node_index: int) -> Any:
        return unpack_singleton(self._node(node_index, "input").input_masks)

    def get_output_mask_at(self, node_index: int) -> Any:
        return unpack_singleton(self._node(node_index, "output").output_masks)

    def get_input_shape_at(self, node_index: int) -> Any:
        return unpack_singleton(self._node(node_index, "input").input_shapes)

    def get_output_shape_at(self, node_index: int) -> Any:
        return unpack_singleton(self._node(node_index, "output").output_shapes)

    @property
    def input(self) -> Any:
        return unpack_singleton(self._node(None, "input").input_tensors)

    @property
    def output(self) -> Any:
        return unpack_singleton(self._node(None, "output").output_tensors)

    @property
    def input_mask(self) -> Any:
        """Keras 1's symbolic input mask: None, masks exist only with values (at run time)."""
        return unpack_singleton(self._node(None, "input").input_masks)

    @property
    def output_mask(self) -> Any:
        return unpack_singleton(self._node(None, "output").output_masks)

    @property
    def input_shape(self) -> Any:
        if not self.inbound_nodes and self.batch_input_shape is not None:
            return self.batch_input_shape
        return unpack_singleton(self._node(None, "input").input_shapes)

    @property
    def output_shape(self) -> Any:
        return unpack_singleton(self._node(None, "output").output_shapes)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


class InputLayer(Layer):
    """The layer behind ``Input()``: it has no weights and one node, with no inputs.

    ``Input(shape=...)`` makes one and returns its tensor, which is how a functional
    model starts; a Sequential model makes one from its first layer's
    ``input_shape``.

    Args:
        input_shape: The shape of one sample, without the batch axis.
        batch_input_shape: The shape with the batch axis; one of the two is needed.
        input_dtype: The dtype of the data fed here (default: ``floatx()``).
        name: The layer's name (default: ``input_`` and a counter).
        sparse: Keras 1's flag for a sparse placeholder; kept in the config, and
            changes nothing in how data is fed.

    Input shape:
        None: the layer is where the data enters.

    Output shape:
        ``batch_input_shape``.
    """

    tensor_class: type[KerasTensor] = KerasTensor

    def __init__(
        self,
        input_shape: Shape | None = None,
        batch_input_shape: Shape | None = None,
        input_dtype: str | None = None,
        name: str | None = None,
        sparse: bool = False,
    ):
        if name is None:
            name = f"input_{get_uid('input')}"
        if batch_input_shape is None and input_shape is None:
            raise ValueError(
                "InputLayer needs input_shape or batch_input_shape (the shape of one "
                "sample, or of a batch)"
            )
        super().__init__(
            name=name,
            input_shape=input_shape,
            batch_input_shape=batch_input_shape,
            input_dtype=input_dtype,
        )
        self.sparse = sparse
        self.built = True
        tensor = self.tensor_class(self.batch_input_shape, self.input_dtype, self, 0, 0)
        self.inbound_nodes.append(Node(self, [], [tensor]))

    def get_config(self) -> dict[str, Any]:
        return {
            "batch_input_shape": list(self.batch_input_shape),
            "input_dtype": self.input_dtype,
            "sparse": self.sparse,
            "name": self.name,
        }


def Input(
    shape: Shape | None = None,
    batch_shape: Shape | None = None,
    name: str | None = None,
    dtype: str | None = None,
    sparse: bool = False,
    tensor: Any = None,
) -> KerasTensor:
    """A symbolic input: the start of a functional model."""
    if tensor is not None:
        raise NotImplementedError("Input(tensor=...) is not supported: pass shape instead")
    if shape is None and batch_shape is None:
        raise ValueError("Input() needs shape= (without the batch axis) or batch_shape=")
    layer = InputLayer(
        input_shape=shape,
        batch_input_shape=batch_shape,
        input_dtype=dtype,
        name=name,
        sparse=sparse,
    )
    return layer.inbound_nodes[0].output_tensors[0]


def get_source_inputs(
    tensor: KerasTensor, layer: Layer | None = None, node_index: int | None = None
) -> list[KerasTensor]:
    """The ``Input`` tensors that ``tensor`` is computed from, in depth-first order.

    ``layer`` and ``node_index`` start the walk from one call of a layer instead.
    """
    if layer is None:
        layer, node_index = tensor.layer, tensor.node_index
    found: list[KerasTensor] = []

    def visit(node: Node) -> None:
        if isinstance(node.outbound_layer, LearningPhaseInput):
            return  # fed by the phase of each run, never by the caller
        if not node.inbound_tensors:
            found.extend(t for t in node.output_tensors if all(t is not f for f in found))
            return
        for inbound in node.inbound_tensors:
            visit(inbound.layer.inbound_nodes[inbound.node_index])

    visit(layer.inbound_nodes[node_index or 0])
    return found


class LearningPhaseTensor(KerasTensor):
    """``K.learning_phase()``: symbolic, and the current phase where a number is wanted."""

    __slots__ = ()

    def __int__(self) -> int:
        return learning_phase()

    __index__ = __int__

    def __bool__(self) -> bool:
        return learning_phase() == 1


class LearningPhaseInput(InputLayer):
    """The layer behind ``K.learning_phase()``: a graph reads the phase of the current run
    from it (1 in training steps, 0 in evaluation and prediction, what a ``K.function``
    was fed)."""

    tensor_class = LearningPhaseTensor

    def __init__(self) -> None:
        super().__init__(batch_input_shape=(), input_dtype="uint8", name="keras_learning_phase")

    def call(self, x: Any, mask: Any = None) -> torch.Tensor:
        return torch.tensor(learning_phase(), dtype=torch.uint8)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """There is one learning phase: a config that names it gets that one."""
        return learning_phase_tensor().layer


_learning_phase_input: LearningPhaseInput | None = None


def learning_phase_tensor() -> LearningPhaseTensor:
    """The one learning-phase placeholder of the process."""
    global _learning_phase_input
    if _learning_phase_input is None:
        _learning_phase_input = LearningPhaseInput()
    return _learning_phase_input.inbound_nodes[0].output_tensors[0]


def object_list_uid(object_list: Any) -> str:
    """One key for a list of objects (or one object), from their identities (Keras 1's)."""
    return ", ".join(str(abs(id(x))) for x in to_list(object_list))


#: Keras 1's names of this module whose code lives in modules that import this one.
_ELSEWHERE = {
    "Container": "lamella.engine.container",
    "Merge": "lamella.engine.merge",
    "merge": "lamella.engine.merge",
    "func_dump": "lamella.utils.generic_utils",
    "func_load": "lamella.utils.generic_utils",
    "ask_to_proceed_with_overwrite": "lamella.utils.io_utils",
}


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
