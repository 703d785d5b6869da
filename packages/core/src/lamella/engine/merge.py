"""``Merge`` and ``merge()``: combine several tensors (or Sequential branches) into one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch

from lamella.backend.config import epsilon
from lamella.engine.callables import calls_gradients, dump_callable, load_callable
from lamella.engine.container import Container
from lamella.engine.serialization import layer_from_config, layer_to_config
from lamella.engine.topology import Layer, Shape, to_list

_ELEMENTWISE = ("sum", "mul", "ave", "max")
MODES = (*_ELEMENTWISE, "concat", "dot", "cos")


def _normalize_axes(dot_axes: int | list[int] | tuple[int, ...], shapes: list[Shape]) -> list[int]:
    if isinstance(dot_axes, int):
        if dot_axes < 0:
            return [dot_axes % len(shapes[0]), dot_axes % len(shapes[1])]
        return [dot_axes, dot_axes]
    return [int(a) % len(s) for a, s in zip(dot_axes, shapes, strict=True)]


def batch_dot(a: torch.Tensor, b: torch.Tensor, axes: list[int]) -> torch.Tensor:
    """Per-sample tensor product over ``axes`` (Keras's batch_dot); (b, 1) for vectors."""
    a = torch.movedim(a, axes[0], -1)
    b = torch.movedim(b, axes[1], 1)
    a_rest, b_rest = a.shape[1:-1], b.shape[2:]
    product = torch.bmm(
        a.reshape(a.shape[0], -1, a.shape[-1]), b.reshape(b.shape[0], b.shape[1], -1)
    )
    result = product.reshape(a.shape[0], *a_rest, *b_rest)
    return result.unsqueeze(1) if result.dim() == 1 else result


class Merge(Layer):
    """Merge a list of tensors with ``mode``: sum, mul, concat, ave, cos, dot, max or a function.

    Given ``layers`` (for instance two Sequential branches), it is connected to
    their outputs at once and can start a Sequential model, as in Keras 1.
    ``merge([a, b], mode=...)`` is the same for tensors of a functional model.

    Args:
        layers: The layers (or models) whose outputs are merged, at least 2, to
            connect at once; default None: the layer is called on a list of
            tensors later.
        mode: How the tensors are combined (default ``'sum'``): ``'sum'``,
            ``'mul'``, ``'ave'`` and ``'max'`` element-wise on tensors of one
            shape, ``'concat'`` along ``concat_axis``, ``'dot'`` and ``'cos'``
            (the dot product, and the cosine of the angle) of two tensors along
            ``dot_axes``, per sample; or a function of the list of tensors,
            returning a tensor.
        concat_axis: The axis the ``'concat'`` mode joins along (default -1, the
            last).
        dot_axes: The axis (an int for both tensors, or one per tensor) the
            ``'dot'`` and ``'cos'`` modes sum over (default -1, the last).
        output_shape: Needed with a function ``mode``, unused otherwise: the
            shape of an output sample as a tuple, or a function of the list of
            input shapes (batch axes included) that returns the output shape.
        output_mask: The mask a function ``mode`` gives, as a mask or a function
            of the list of input masks (default None: the inputs' masks combined;
            none after ``'dot'`` and ``'cos'``).
        arguments: Keyword arguments passed to a function ``mode`` on every call.
        node_indices: With ``layers``, which call of each layer gives the tensor
            to merge (default: the first of each).
        tensor_indices: With ``layers``, which output of that call (default: the
            first).
        name: The layer's name (default: ``merge_`` and a counter).

    Input shape:
        A list of at least 2 tensors; what each mode needs is above.

    Output shape:
        The inputs' shape for the element-wise modes; for ``'concat'``, theirs with
        the sizes along ``concat_axis`` added up; for ``'dot'``, the axes of both
        left after the summed ones (``(batch, 1)`` for two vectors); ``(batch, 1)``
        for ``'cos'``; ``output_shape`` for a function.
    """

    def __init__(
        self,
        layers: list[Layer] | None = None,
        mode: str | Callable[..., Any] = "sum",
        concat_axis: int = -1,
        dot_axes: int | list[int] = -1,
        output_shape: Any = None,
        output_mask: Any = None,
        arguments: dict[str, Any] | None = None,
        node_indices: list[int] | None = None,
        tensor_indices: list[int] | None = None,
        name: str | None = None,
    ):
        if not callable(mode) and mode not in MODES:
            raise ValueError(
                f"Merge: mode must be one of {', '.join(MODES)} or a function, got {mode!r}"
            )
        if callable(mode) and output_shape is None:
            raise ValueError("Merge: a function mode needs output_shape (tuple or function)")
        super().__init__(name=name)
        self.mode = mode
        self.concat_axis = concat_axis
        self.dot_axes = dot_axes
        self._output_shape = output_shape
        self._output_mask = output_mask
        self.arguments = arguments or {}
        self.supports_masking = mode != "max"
        self.branches: list[Layer] = list(layers or [])
        if layers:
            if len(layers) < 2:
                raise ValueError(f"Merge {self.name}: needs at least 2 layers, got {len(layers)}")
            node_indices = node_indices or [0] * len(layers)
            tensor_indices = tensor_indices or [0] * len(layers)
            inputs = []
            for layer, node, tensor in zip(layers, node_indices, tensor_indices, strict=True):
                if isinstance(layer, Container) and not layer.inbound_nodes:
                    outputs = layer.outputs  # a branch model: its own output tensors
                else:
                    outputs = to_list(layer.get_output_at(node))
                inputs.append(outputs[tensor])
            self(inputs)

    def _check_shapes(self, shapes: list[Shape]) -> None:
        if len(shapes) < 2:
            raise ValueError(f"Merge {self.name}: needs at least 2 inputs, got {len(shapes)}")
        if self.mode in _ELEMENTWISE and len({tuple(s) for s in shapes}) > 1:
            raise ValueError(
                f"Merge {self.name} (mode {self.mode!r}): all inputs must have the same "
                f"shape, got {shapes}"
            )
        if self.mode == "concat":
            axis = self.concat_axis % len(shapes[0])
            reduced = {tuple(s[:axis]) + tuple(s[axis + 1 :]) for s in shapes}
            if len(reduced) > 1 or len({len(s) for s in shapes}) > 1:
                raise ValueError(
                    f"Merge {self.name} (mode 'concat', axis {self.concat_axis}): shapes must "
                    f"match except on the concatenation axis, got {shapes}"
                )
        if self.mode in ("dot", "cos"):
            if len(shapes) != 2:
                raise ValueError(
                    f"Merge {self.name} (mode {self.mode!r}): needs exactly 2 inputs, got "
                    f"{len(shapes)}"
                )
            axes = _normalize_axes(self.dot_axes, shapes)
            if shapes[0][axes[0]] != shapes[1][axes[1]]:
                raise ValueError(
                    f"Merge {self.name} (mode {self.mode!r}): dimension {shapes[0][axes[0]]} "
                    f"of axis {axes[0]} does not match {shapes[1][axes[1]]} of axis {axes[1]}"
                )

    def build(self, input_shape: Any) -> None:
        if not callable(self.mode):
            self._check_shapes(list(input_shape))

    @property
    def needs_autograd(self) -> bool:
        return callable(self.mode) and calls_gradients(self.mode)

    def get_output_shape_for(self, input_shape: Any) -> Any:
        shapes = list(input_shape)
        if callable(self.mode):
            if callable(self._output_shape):
                return tuple(self._output_shape(shapes))
            return (shapes[0][0], *tuple(self._output_shape))
        if self.mode in _ELEMENTWISE:
            return tuple(shapes[0])
        if self.mode == "concat":
            axis = self.concat_axis % len(shapes[0])
            sizes = [s[axis] for s in shapes]
            total = None if any(s is None for s in sizes) else sum(sizes)
            return (*shapes[0][:axis], total, *shapes[0][axis + 1 :])
        if self.mode == "cos":
            return (shapes[0][0], 1)
        axes = _normalize_axes(self.dot_axes, shapes)
        first = [d for i, d in enumerate(shapes[0]) if i != axes[0]]
        second = [d for i, d in enumerate(shapes[1]) if i != axes[1]][1:]
        shape = (*first, *second)
        return shape if len(shape) > 1 else (shape[0], 1)

    def call(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:
        mode = self.mode
        if callable(mode):
            result = mode(inputs, **self.arguments)
            # One output declared: a function that returns [tensor] (K.gradients of one
            # tensor, in Keras's mnist_swwae) gives that tensor.
            if isinstance(result, (list, tuple)) and len(result) == 1:
                return result[0]
            return result
        if mode == "sum":
            return torch.stack(inputs).sum(0) if len(inputs) > 2 else inputs[0] + inputs[1]
        if mode == "ave":
            return torch.stack(inputs).mean(0)
        if mode == "mul":
            result = inputs[0]
            for value in inputs[1:]:
                result = result * value
            return result
        if mode == "max":
            return torch.stack(inputs).amax(0)
        if mode == "concat":
            return torch.cat(inputs, dim=self.concat_axis)
        axes = _normalize_axes(self.dot_axes, [tuple(t.shape) for t in inputs])
        if mode == "dot":
            return batch_dot(inputs[0], inputs[1], axes)
        a, b = inputs
        dot = batch_dot(a, b, axes)
        norms = batch_dot(a, a, [axes[0], axes[0]]) * batch_dot(b, b, [axes[1], axes[1]])
        return (dot / torch.sqrt(norms).clamp_min(epsilon())).reshape(a.shape[0], 1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or all(m is None for m in to_list(mask)):
            return None
        if callable(self._output_mask):
            return self._output_mask(mask)
        if self._output_mask is not None:
            return self._output_mask
        if self.mode == "max":
            raise TypeError(f"Merge {self.name}: mode 'max' cannot merge masked inputs")
        if self.mode in ("dot", "cos"):
            return None
        present = [m for m in mask if m is not None]
        result = present[0]
        for other in present[1:]:
            result = result & other
        return result

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        if not any(inputs_masked) or self.mode in ("dot", "cos"):
            return False
        return super().output_masked(inputs_masked)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name}
        for key, value in (
            ("mode", self.mode),
            ("output_shape", self._output_shape),
            ("output_mask", self._output_mask),
        ):
            stored, kind = dump_callable(value) if callable(value) else (value, "raw")
            config[key], config[f"{key}_type"] = stored, kind
        config.update(
            concat_axis=self.concat_axis, dot_axes=self.dot_axes, arguments=self.arguments
        )
        if self.branches:
            config["layers"] = [layer_to_config(branch) for branch in self.branches]
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Merge:
        config = dict(config)
        owner = f"Merge layer {config.get('name')!r}"
        for key in ("mode", "output_shape", "output_mask"):
            kind = config.pop(f"{key}_type", "raw")
            if kind != "raw":
                config[key] = load_callable(owner, config[key], kind, custom_objects)
        config.pop("trainable", None)
        branches = config.pop("layers", None)
        if branches:
            # A branch merged with itself (Merge([left, left])) is saved once per use:
            # equal configs name the same layers, so they are rebuilt as one branch.
            built: dict[str, Layer] = {}
            for branch in branches:
                key = json.dumps(branch, sort_keys=True, default=str)
                if key not in built:
                    built[key] = layer_from_config(branch, custom_objects)
            config["layers"] = [built[json.dumps(b, sort_keys=True, default=str)] for b in branches]
        return cls(**config)


def merge(
    inputs: list[Any],
    mode: str | Callable[..., Any] = "sum",
    concat_axis: int = -1,
    dot_axes: int | list[int] = -1,
    output_shape: Any = None,
    output_mask: Any = None,
    arguments: dict[str, Any] | None = None,
    name: str | None = None,
) -> Any:
    """The functional form: merge a list of symbolic (or real) tensors."""
    layer = Merge(
        mode=mode,
        concat_axis=concat_axis,
        dot_axes=dot_axes,
        output_shape=output_shape,
        output_mask=output_mask,
        arguments=arguments,
        name=name,
    )
    return layer(inputs)


# -- Keras 2's merge layers: Keras 1's Merge with a fixed mode ---------------------------


class _FixedMerge(Merge):
    """A Merge whose mode its class names (Keras 2's ``Add()``, ``Concatenate(axis)``).

    It is saved as the Keras 1 Merge it is (``saved_as``), so files stay Keras 1's.
    """

    saved_as = "Merge"
    fixed_mode = "sum"

    def __init__(self, name: str | None = None, **merge_arguments: Any):
        super().__init__(mode=self.fixed_mode, name=name, **merge_arguments)


class Add(_FixedMerge):
    """Keras 2's ``Add``: the element-wise sum, Keras 1's ``Merge(mode='sum')``.

    Args:
        name: The layer's name (default: the class name in lower case and a
            counter).
        **merge_arguments: Other arguments of ``Merge`` (``layers``,
            ``output_mask`` ...), for the rare call that needs them.

    Input shape:
        A list of at least 2 tensors of one shape.

    Output shape:
        The inputs' shape.
    """

    fixed_mode = "sum"


class Multiply(_FixedMerge):
    """Keras 2's ``Multiply``: Keras 1's ``Merge(mode='mul')``.

    Args:
        name: The layer's name (default: the class name in lower case and a
            counter).
        **merge_arguments: Other arguments of ``Merge`` (``layers``,
            ``output_mask`` ...), for the rare call that needs them.

    Input shape:
        A list of at least 2 tensors of one shape.

    Output shape:
        The inputs' shape.
    """

    fixed_mode = "mul"


class Average(_FixedMerge):
    """Keras 2's ``Average``: Keras 1's ``Merge(mode='ave')``.

    Args:
        name: The layer's name (default: the class name in lower case and a
            counter).
        **merge_arguments: Other arguments of ``Merge`` (``layers``,
            ``output_mask`` ...), for the rare call that needs them.

    Input shape:
        A list of at least 2 tensors of one shape.

    Output shape:
        The inputs' shape.
    """

    fixed_mode = "ave"


class Maximum(_FixedMerge):
    """Keras 2's ``Maximum``: Keras 1's ``Merge(mode='max')``.

    Args:
        name: The layer's name (default: the class name in lower case and a
            counter).
        **merge_arguments: Other arguments of ``Merge`` (``layers``,
            ``output_mask`` ...), for the rare call that needs them.

    Input shape:
        A list of at least 2 tensors of one shape.

    Output shape:
        The inputs' shape.
    """

    fixed_mode = "max"


class Concatenate(_FixedMerge):
    """Keras 2's ``Concatenate(axis=-1)``: Keras 1's ``Merge(mode='concat', concat_axis)``.

    Args:
        axis: The axis the tensors are joined along (default -1, the last).
        name: The layer's name (default: ``concatenate_`` and a counter).

    Input shape:
        A list of at least 2 tensors whose shapes agree except along ``axis``.

    Output shape:
        The inputs' shape, with the sizes along ``axis`` added up.
    """

    fixed_mode = "concat"

    def __init__(self, axis: int = -1, name: str | None = None):
        super().__init__(name=name, concat_axis=axis)


class Dot(Merge):
    """Keras 2's ``Dot(axes, normalize=False)``: Keras 1's ``Merge(mode='dot', dot_axes)``,
    or ``mode='cos'`` when ``normalize`` (the cosine of two vectors).

    Args:
        axes: The axis summed over, an int for both tensors or one per tensor.
        normalize: Whether to divide by the norms of both tensors, giving the
            cosine of the angle between them (default False).
        name: The layer's name (default: ``dot_`` and a counter).

    Input shape:
        A list of 2 tensors of the same size along ``axes``.

    Output shape:
        The axes of both left after the summed ones (``(batch, 1)`` for two
        vectors); ``(batch, 1)`` with ``normalize``.
    """

    saved_as = "Merge"

    def __init__(self, axes: int | list[int], normalize: bool = False, name: str | None = None):
        super().__init__(mode="cos" if normalize else "dot", dot_axes=axes, name=name)


def add(inputs: list[Any], **kwargs: Any) -> Any:
    """Keras 2's functional ``add``: the sum of the tensors."""
    return Add(**kwargs)(inputs)


def multiply(inputs: list[Any], **kwargs: Any) -> Any:
    return Multiply(**kwargs)(inputs)


def average(inputs: list[Any], **kwargs: Any) -> Any:
    return Average(**kwargs)(inputs)


def maximum(inputs: list[Any], **kwargs: Any) -> Any:
    return Maximum(**kwargs)(inputs)


def concatenate(inputs: list[Any], axis: int = -1, **kwargs: Any) -> Any:
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list[Any], axes: int | list[int], normalize: bool = False, **kwargs: Any) -> Any:
    return Dot(axes, normalize=normalize, **kwargs)(inputs)
