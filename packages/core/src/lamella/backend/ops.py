"""The Keras 1 backend functions, on torch tensors.

Keras 1 code calls these inside custom layers, activations, losses and metrics, so each keeps
Keras's name, argument order, defaults and maths, and stays differentiable where Keras's was.
Numpy arrays and Python numbers are accepted where Keras code passes them; results stay on the
device of the tensor arguments.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lamella.backend.config import device as _device
from lamella.backend.config import epsilon as _epsilon
from lamella.backend.config import image_dim_ordering as _image_dim_ordering
from lamella.backend.config import torch_dtype as _torch_dtype
from lamella.backend.state import learning_phase as _learning_phase

TensorLike = torch.Tensor | np.ndarray | float | int
Axis = int | Sequence[int] | None
Shape = int | Sequence[int] | torch.Size
DType = str | torch.dtype | None  # a Keras name such as 'float32'; None means floatx

__all__ = [
    "abs",
    "all",
    "any",
    "arange",
    "argmax",
    "argmin",
    "asymmetric_spatial_2d_padding",
    "asymmetric_temporal_padding",
    "batch_dot",
    "batch_flatten",
    "batch_get_value",
    "batch_normalization",
    "batch_set_value",
    "binary_crossentropy",
    "cast",
    "categorical_crossentropy",
    "clip",
    "concatenate",
    "cos",
    "count_params",
    "dot",
    "dropout",
    "dtype",
    "elu",
    "equal",
    "eval",
    "exp",
    "expand_dims",
    "eye",
    "flatten",
    "gather",
    "get_value",
    "get_variable_shape",
    "gradients",
    "greater",
    "greater_equal",
    "hard_sigmoid",
    "in_test_phase",
    "in_top_k",
    "in_train_phase",
    "int_shape",
    "l2_normalize",
    "less",
    "less_equal",
    "lesser",
    "lesser_equal",
    "log",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "moving_average_update",
    "ndim",
    "normalize_batch_in_training",
    "not_equal",
    "one_hot",
    "ones",
    "ones_like",
    "permute_dimensions",
    "pow",
    "print_tensor",
    "prod",
    "random_binomial",
    "random_normal",
    "random_uniform",
    "relu",
    "repeat",
    "repeat_elements",
    "reshape",
    "resize_images",
    "resize_volumes",
    "reverse",
    "round",
    "set_value",
    "shape",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "softplus",
    "softsign",
    "sparse_categorical_crossentropy",
    "spatial_2d_padding",
    "spatial_3d_padding",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "stop_gradient",
    "sum",
    "switch",
    "tanh",
    "temporal_padding",
    "tile",
    "transpose",
    "update",
    "update_add",
    "update_sub",
    "var",
    "variable",
    "zeros",
    "zeros_like",
]


# --------------------------------------------------------------------------------------------
# Argument checking and conversion


def _tensor(fn: str, x: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """Turn numpy arrays and numbers into tensors; next to a tensor they join its device and
    float width, so a float64 array does not widen a float32 graph."""
    if isinstance(x, torch.Tensor):
        return x
    try:
        result = torch.as_tensor(x, device=None if like is None else like.device)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{fn}: expected a torch.Tensor, numpy array or number, got {type(x).__name__}"
        ) from None
    if like is not None and result.is_floating_point() and like.is_floating_point():
        # Convert from the original value: a Python float went through float32 above.
        result = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    return result


def _pair(fn: str, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return x, _tensor(fn, y, like=x)
    y = _tensor(fn, y)
    return _tensor(fn, x, like=y), y


def _tensors(fn: str, xs: Iterable[Any]) -> list[torch.Tensor]:
    items = list(xs)
    like = next((item for item in items if isinstance(item, torch.Tensor)), None)
    return [_tensor(fn, item, like=like) for item in items]


def _indices(fn: str, indices: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """Index tensors must be integers, as in Keras: a float here is almost always a mistake."""
    indices = _tensor(fn, indices, like=like)
    if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
        raise TypeError(f"{fn}: indices must be integers, got dtype {dtype(indices)!r}")
    return indices.long()


def _dtype(fn: str, name: DType) -> torch.dtype:
    try:
        resolved = _torch_dtype(name)
    except ValueError:
        resolved = None
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            f"{fn}: dtype must be a Keras dtype name such as 'float32', 'int32' or 'bool', "
            f"or a torch.dtype; got {name!r}"
        )
    return resolved


def _float_dtype(fn: str, name: DType) -> torch.dtype:
    resolved = _dtype(fn, name)
    if not resolved.is_floating_point:
        raise ValueError(f"{fn}: dtype must be a floating type, got {name!r}")
    return resolved


def _shape(fn: str, shape: Shape | torch.Tensor) -> tuple[int, ...]:
    dims = shape.tolist() if isinstance(shape, torch.Tensor) else shape
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    try:
        result = tuple(operator.index(d) for d in dims)
    except TypeError:
        result = None
    if result is None or builtins.any(d < 0 for d in result):
        raise ValueError(
            f"{fn}: shape must be an int or a sequence of non-negative ints, got {shape!r}"
        )
    return result


def _dims(fn: str, x: torch.Tensor, axis: Axis) -> tuple[int, ...]:
    """Keras axes (int, tuple, list, negative or None = all) as non-negative dims."""
    if axis is None:
        return tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -x.ndim <= a < builtins.max(x.ndim, 1):
            raise ValueError(f"{fn}: axis {a} is out of range for a {x.ndim}D tensor")
    return tuple(int(a) % builtins.max(x.ndim, 1) for a in axes)


def _ordering(fn: str, dim_ordering: str) -> str:
    if dim_ordering == "default":
        dim_ordering = _image_dim_ordering()
    if dim_ordering not in ("th", "tf"):
        raise ValueError(
            f"{fn}: dim_ordering must be 'th', 'tf' or 'default', got {dim_ordering!r}"
        )
    return dim_ordering


def _evaluate(branch: Any) -> Any:
    """Branches may be callables so that a branch not taken is never computed."""
    return branch() if callable(branch) else branch


def _choose(use_first: bool, first: Any, second: Any) -> Any:
    return _evaluate(first if use_first else second)


# --------------------------------------------------------------------------------------------
# Variables and their values


def _new_variable(data: torch.Tensor, name: str | None) -> torch.nn.Parameter:
    # Only floating (and complex) tensors can require grad; integer variables are state.
    trainable = data.is_floating_point() or data.is_complex()
    param = torch.nn.Parameter(data, requires_grad=trainable)
    if name is not None:
        param._keras_name = name
    return param


def variable(value: TensorLike, dtype: DType = None, name: str | None = None) -> torch.nn.Parameter:
    """A Parameter, so layers that make weights with ``K.variable`` get trainable weights.

    The value is copied: later changes to a numpy source do not leak in. A tensor value keeps
    its device; anything else lands on the CPU (models move their weights with ``.to``).
    """
    data = _tensor("variable", value).detach()
    return _new_variable(data.to(_dtype("variable", dtype), copy=True), name)


def zeros(shape: Shape, dtype: DType = None, name: str | None = None) -> torch.nn.Parameter:
    return _new_variable(torch.zeros(_shape("zeros", shape), dtype=_dtype("zeros", dtype)), name)


def ones(shape: Shape, dtype: DType = None, name: str | None = None) -> torch.nn.Parameter:
    return _new_variable(torch.ones(_shape("ones", shape), dtype=_dtype("ones", dtype)), name)


def eye(size: int, dtype: DType = None, name: str | None = None) -> torch.nn.Parameter:
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"eye: size must be a non-negative int, got {size!r}")
    return _new_variable(torch.eye(int(size), dtype=_dtype("eye", dtype)), name)


def zeros_like(x: TensorLike, dtype: DType = None, name: str | None = None) -> torch.Tensor:
    """A plain tensor (not a variable) of ``x``'s dtype unless told; ``name`` is accepted for
    Keras compatibility only."""
    x = _tensor("zeros_like", x)
    return torch.zeros_like(x, dtype=None if dtype is None else _dtype("zeros_like", dtype))


def ones_like(x: TensorLike, dtype: DType = None, name: str | None = None) -> torch.Tensor:
    """As :func:`zeros_like`, with ones."""
    x = _tensor("ones_like", x)
    return torch.ones_like(x, dtype=None if dtype is None else _dtype("ones_like", dtype))


def cast(x: TensorLike, dtype: str | torch.dtype) -> torch.Tensor:
    return _tensor("cast", x).to(_dtype("cast", dtype))


def dtype(x: TensorLike) -> str:
    """The Keras name ('float32', 'int64', 'bool'), which Keras code compares against strings."""
    return str(_tensor("dtype", x).dtype).removeprefix("torch.")


def shape(x: TensorLike) -> torch.Size:
    return _tensor("shape", x).shape


def int_shape(x: TensorLike) -> tuple[int, ...]:
    return tuple(int(d) for d in _tensor("int_shape", x).shape)


get_variable_shape = int_shape


def ndim(x: TensorLike) -> int:
    return _tensor("ndim", x).ndim


def count_params(x: TensorLike) -> int:
    return _tensor("count_params", x).numel()


def get_value(x: TensorLike) -> np.ndarray:
    """A numpy copy, never a view: a later in-place update must not change what was read."""
    x = _tensor("get_value", x).detach()
    if x.dtype == torch.bfloat16:  # numpy has no bfloat16
        x = x.float()
    return x.to("cpu", copy=True).numpy()


eval = get_value


def batch_get_value(xs: Iterable[TensorLike]) -> list[np.ndarray]:
    return [get_value(x) for x in xs]


def _assign(fn: str, x: Any, value: Any) -> torch.Tensor:
    """Write ``value`` into ``x`` in place, outside autograd, as Keras's variable assignment."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: x must be a torch.Tensor (a variable), got {type(x).__name__}")
    with torch.no_grad():
        new = _tensor(fn, value, like=x)
        if new.shape != x.shape:
            raise ValueError(
                f"{fn}: value has shape {tuple(new.shape)} but x has shape {tuple(x.shape)}"
            )
        x.copy_(new)
    return x


def set_value(x: torch.Tensor, value: TensorLike) -> None:
    _assign("set_value", x, value)


def batch_set_value(tuples: Iterable[tuple[torch.Tensor, TensorLike]]) -> None:
    for x, value in tuples:
        _assign("batch_set_value", x, value)


def update(x: torch.Tensor, new_x: TensorLike) -> torch.Tensor:
    return _assign("update", x, new_x)


def update_add(x: torch.Tensor, increment: TensorLike) -> torch.Tensor:
    with torch.no_grad():
        return _assign("update_add", x, x + _tensor("update_add", increment, like=x))


def update_sub(x: torch.Tensor, decrement: TensorLike) -> torch.Tensor:
    with torch.no_grad():
        return _assign("update_sub", x, x - _tensor("update_sub", decrement, like=x))


def moving_average_update(
    variable: torch.Tensor, value: TensorLike, momentum: float
) -> torch.Tensor:
    """``momentum`` weights the old value (Keras's convention; PyTorch's is the reverse)."""
    with torch.no_grad():
        value = _tensor("moving_average_update", value, like=variable)
        new = variable * momentum + value * (1.0 - momentum)
        return _assign("moving_average_update", variable, new)


def print_tensor(x: TensorLike, message: str = "") -> TensorLike:
    """Print and pass ``x`` through, so it can sit inside an expression as in Keras."""
    print(f"{message}{get_value(x)}")
    return x


# --------------------------------------------------------------------------------------------
# Linear algebra


def dot(x: TensorLike, y: TensorLike) -> torch.Tensor:
    """numpy.dot: the last axis of ``x`` against the second-to-last of ``y`` (a matmul in 2D)."""
    x, y = _pair("dot", x, y)
    return torch.tensordot(x, y, dims=([x.ndim - 1], [builtins.max(y.ndim - 2, 0)]))


def batch_dot(
    x: TensorLike, y: TensorLike, axes: int | Sequence[int] | None = None
) -> torch.Tensor:
    """Per sample, sum ``x``'s axis ``axes[0]`` against ``y``'s ``axes[1]``.

    The result has ``x``'s remaining axes then ``y``'s (less the batch axis); a 1D result
    becomes ``(batch, 1)``. The default axes make it a batched matmul.
    """
    x, y = _pair("batch_dot", x, y)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(
            f"batch_dot: x and y must have at least 2 dimensions, got shapes "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 2)
    elif isinstance(axes, (int, np.integer)):
        axes = (axes, axes)
    (x_axis,), (y_axis,) = _dims("batch_dot", x, axes[0]), _dims("batch_dot", y, axes[1])
    if x_axis == 0 or y_axis == 0:
        raise ValueError(
            f"batch_dot: axes must not include the batch axis 0, got {tuple(axes)} for shapes "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    x = torch.movedim(x, x_axis, -1)  # (batch, *x_rest, k)
    y = torch.movedim(y, y_axis, 1)  # (batch, k, *y_rest)
    batch, k = x.shape[0], x.shape[-1]
    out = torch.bmm(x.reshape(batch, -1, k), y.reshape(batch, y.shape[1], -1))
    out = out.reshape(batch, *x.shape[1:-1], *y.shape[2:])
    return out.unsqueeze(1) if out.ndim == 1 else out


def transpose(x: TensorLike) -> torch.Tensor:
    """Reverse all axes, as Theano's and TensorFlow's transpose do."""
    x = _tensor("transpose", x)
    return x.permute(*reversed(range(x.ndim)))


def gather(reference: TensorLike, indices: TensorLike) -> torch.Tensor:
    """Rows of ``reference``; the result has shape ``indices.shape + reference.shape[1:]``."""
    reference = _tensor("gather", reference)
    return reference[_indices("gather", indices, like=reference)]


# --------------------------------------------------------------------------------------------
# Reductions


def _reduce(
    fn: str, op: Callable[..., torch.Tensor], x: Any, axis: Axis, keepdims: bool
) -> torch.Tensor:
    x = _tensor(fn, x)
    return op(x, _dims(fn, x, axis), keepdims)


def _floating(x: torch.Tensor) -> torch.Tensor:
    """Averages of integers or booleans are taken in floatx, not truncated."""
    return x if x.is_floating_point() else x.to(_torch_dtype())


def sum(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("sum", lambda t, d, k: torch.sum(t, d, keepdim=k), x, axis, keepdims)


def mean(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce(
        "mean", lambda t, d, k: torch.mean(_floating(t), d, keepdim=k), x, axis, keepdims
    )


def max(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("max", lambda t, d, k: torch.amax(t, d, keepdim=k), x, axis, keepdims)


def min(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("min", lambda t, d, k: torch.amin(t, d, keepdim=k), x, axis, keepdims)


def _prod(x: torch.Tensor, dims: tuple[int, ...], keepdim: bool) -> torch.Tensor:
    # torch.prod takes one dim at a time.
    for d in dims:
        x = torch.prod(x, d, keepdim=True)
    return x if keepdim else x.squeeze(dims)


def prod(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("prod", _prod, x, axis, keepdims)


def _population_var(x: torch.Tensor, dims: tuple[int, ...], keepdim: bool) -> torch.Tensor:
    # Keras's variance is biased (divides by n), unlike torch's default.
    return torch.var(_floating(x), dims, correction=0, keepdim=keepdim)


def var(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("var", _population_var, x, axis, keepdims)


def std(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    """The square root of Keras's biased :func:`var`."""
    return _reduce("std", lambda t, d, k: torch.sqrt(_population_var(t, d, k)), x, axis, keepdims)


def any(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("any", lambda t, d, k: torch.any(t, d, keepdim=k), x, axis, keepdims)


def all(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> torch.Tensor:
    return _reduce("all", lambda t, d, k: torch.all(t, d, keepdim=k), x, axis, keepdims)


def argmax(x: TensorLike, axis: int = -1) -> torch.Tensor:
    x = _tensor("argmax", x)
    (dim,) = _dims("argmax", x, axis)
    return torch.argmax(x, dim)


def argmin(x: TensorLike, axis: int = -1) -> torch.Tensor:
    x = _tensor("argmin", x)
    (dim,) = _dims("argmin", x, axis)
    return torch.argmin(x, dim)


# --------------------------------------------------------------------------------------------
# Element-wise maths and comparisons


def square(x: TensorLike) -> torch.Tensor:
    return torch.square(_tensor("square", x))


def sqrt(x: TensorLike) -> torch.Tensor:
    """Negative inputs are clipped to 0 first, as in Keras, so rounding noise gives 0, not NaN."""
    return torch.sqrt(torch.clamp(_tensor("sqrt", x), min=0))


def abs(x: TensorLike) -> torch.Tensor:
    return torch.abs(_tensor("abs", x))


def exp(x: TensorLike) -> torch.Tensor:
    return torch.exp(_tensor("exp", x))


def log(x: TensorLike) -> torch.Tensor:
    return torch.log(_tensor("log", x))


def pow(x: TensorLike, a: TensorLike) -> torch.Tensor:
    x, a = _pair("pow", x, a)
    return torch.pow(x, a)


def clip(x: TensorLike, min_value: TensorLike | None, max_value: TensorLike | None) -> torch.Tensor:
    """``max(min(x, max_value), min_value)``: as in Keras, ``max_value < min_value`` gives
    ``min_value`` everywhere, and a ``None`` bound is no bound."""
    x = _tensor("clip", x)
    if max_value is not None:
        x = torch.clamp(x, max=max_value)
    if min_value is not None:
        x = torch.clamp(x, min=min_value)
    return x


def round(x: TensorLike) -> torch.Tensor:
    """Halves round to even, as in Keras."""
    return torch.round(_tensor("round", x))


def sign(x: TensorLike) -> torch.Tensor:
    return torch.sign(_tensor("sign", x))


def sin(x: TensorLike) -> torch.Tensor:
    return torch.sin(_tensor("sin", x))


def cos(x: TensorLike) -> torch.Tensor:
    return torch.cos(_tensor("cos", x))


def equal(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.eq(*_pair("equal", x, y))


def not_equal(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.ne(*_pair("not_equal", x, y))


def greater(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.gt(*_pair("greater", x, y))


def greater_equal(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.ge(*_pair("greater_equal", x, y))


def less(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.lt(*_pair("less", x, y))


def less_equal(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.le(*_pair("less_equal", x, y))


# Keras 1's spellings.
lesser = less
lesser_equal = less_equal


def maximum(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.maximum(*_pair("maximum", x, y))


def minimum(x: TensorLike, y: TensorLike) -> torch.Tensor:
    return torch.minimum(*_pair("minimum", x, y))


# --------------------------------------------------------------------------------------------
# Shape operations


def reshape(x: TensorLike, shape: Shape) -> torch.Tensor:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return torch.reshape(_tensor("reshape", x), dims)


def permute_dimensions(x: TensorLike, pattern: Sequence[int]) -> torch.Tensor:
    return _tensor("permute_dimensions", x).permute(*pattern)


def expand_dims(x: TensorLike, dim: int = -1) -> torch.Tensor:
    return torch.unsqueeze(_tensor("expand_dims", x), dim)


def squeeze(x: TensorLike, axis: int) -> torch.Tensor:
    """Drop ``axis``, which must have size 1 (torch would silently keep a longer axis)."""
    x = _tensor("squeeze", x)
    (dim,) = _dims("squeeze", x, axis)
    if x.shape[dim] != 1:
        raise ValueError(f"squeeze: axis {axis} has size {x.shape[dim]}, expected 1")
    return torch.squeeze(x, dim)


def flatten(x: TensorLike) -> torch.Tensor:
    return torch.reshape(_tensor("flatten", x), (-1,))


def batch_flatten(x: TensorLike) -> torch.Tensor:
    """Keep the batch axis, flatten the rest: ``(batch, prod(rest))``."""
    x = _tensor("batch_flatten", x)
    return torch.reshape(x, (x.shape[0], -1))


def concatenate(tensors: Sequence[TensorLike], axis: int = -1) -> torch.Tensor:
    return torch.cat(_tensors("concatenate", tensors), dim=axis)


def stack(x: Sequence[TensorLike]) -> torch.Tensor:
    """Along a new first axis."""
    return torch.stack(_tensors("stack", x))


def repeat(x: TensorLike, n: int) -> torch.Tensor:
    """``(batch, dim)`` to ``(batch, n, dim)``, as RepeatVector needs."""
    x = _tensor("repeat", x)
    if x.ndim != 2:
        raise ValueError(f"repeat: x must be 2D (batch, dim), got shape {tuple(x.shape)}")
    return x.unsqueeze(1).repeat(1, n, 1)


def repeat_elements(x: TensorLike, rep: int, axis: int) -> torch.Tensor:
    """Each slice repeated in place (``[a, b]`` to ``[a, a, b, b]``), as numpy.repeat."""
    return torch.repeat_interleave(_tensor("repeat_elements", x), rep, dim=axis)


def tile(x: TensorLike, n: int | Sequence[int]) -> torch.Tensor:
    reps = (n,) if isinstance(n, (int, np.integer)) else tuple(n)
    return _tensor("tile", x).tile(reps)


def arange(
    start: int, stop: int | None = None, step: int = 1, dtype: DType = "int32"
) -> torch.Tensor:
    """On the model device (``_device()``), as it is made inside a forward pass."""
    if stop is None:  # arange(n) counts from 0; a negative n gives an empty range
        start, stop = 0, builtins.max(start, 0)
    return torch.arange(start, stop, step, dtype=_dtype("arange", dtype), device=_device())


def one_hot(indices: TensorLike, nb_classes: int) -> torch.Tensor:
    """In floatx, one axis of ``nb_classes`` added at the end."""
    return F.one_hot(_indices("one_hot", indices), nb_classes).to(_torch_dtype())


def reverse(x: TensorLike, axes: int | Sequence[int]) -> torch.Tensor:
    x = _tensor("reverse", x)
    return torch.flip(x, _dims("reverse", x, axes))


def _spatial_axes(fn: str, x: torch.Tensor, count: int, dim_ordering: str) -> range:
    """The ``count`` spatial axes: after the channels ('th') or before them ('tf')."""
    ordering = _ordering(fn, dim_ordering)
    if x.ndim != count + 2:
        raise ValueError(f"{fn}: expected a {count + 2}D tensor, got shape {tuple(x.shape)}")
    first = 2 if ordering == "th" else 1
    return range(first, first + count)


def _pad(fn: str, x: Any, pads: Sequence[tuple[int, int]], dim_ordering: str) -> torch.Tensor:
    x = _tensor(fn, x)
    widths = [0] * (2 * x.ndim)  # F.pad lists (before, after) from the last axis backwards
    for axis, (before, after) in zip(
        _spatial_axes(fn, x, len(pads), dim_ordering), pads, strict=True
    ):
        slot = 2 * (x.ndim - 1 - axis)
        widths[slot : slot + 2] = [before, after]
    return F.pad(x, widths)


def asymmetric_temporal_padding(
    x: TensorLike, left_pad: int = 1, right_pad: int = 1
) -> torch.Tensor:
    """Zeros before and after the steps of ``(batch, steps, dim)``."""
    return _pad("asymmetric_temporal_padding", x, [(left_pad, right_pad)], "tf")


def temporal_padding(x: TensorLike, padding: int = 1) -> torch.Tensor:
    return _pad("temporal_padding", x, [(padding, padding)], "tf")


def asymmetric_spatial_2d_padding(
    x: TensorLike,
    top_pad: int = 1,
    bottom_pad: int = 1,
    left_pad: int = 1,
    right_pad: int = 1,
    dim_ordering: str = "default",
) -> torch.Tensor:
    pads = [(top_pad, bottom_pad), (left_pad, right_pad)]
    return _pad("asymmetric_spatial_2d_padding", x, pads, dim_ordering)


def spatial_2d_padding(
    x: TensorLike, padding: Sequence[int] = (1, 1), dim_ordering: str = "default"
) -> torch.Tensor:
    """``padding[0]`` zero rows above and below, ``padding[1]`` zero columns each side."""
    return _pad("spatial_2d_padding", x, [(p, p) for p in padding], dim_ordering)


def spatial_3d_padding(
    x: TensorLike, padding: Sequence[int] = (1, 1, 1), dim_ordering: str = "default"
) -> torch.Tensor:
    return _pad("spatial_3d_padding", x, [(p, p) for p in padding], dim_ordering)


def _upsample(fn: str, x: Any, factors: Sequence[int], dim_ordering: str) -> torch.Tensor:
    """Nearest-neighbour upsampling by whole factors: every pixel repeated along each axis."""
    x = _tensor(fn, x)
    for axis, factor in zip(_spatial_axes(fn, x, len(factors), dim_ordering), factors, strict=True):
        x = torch.repeat_interleave(x, factor, dim=axis)
    return x


def resize_images(
    X: TensorLike, height_factor: int, width_factor: int, dim_ordering: str
) -> torch.Tensor:
    return _upsample("resize_images", X, (height_factor, width_factor), dim_ordering)


def resize_volumes(
    X: TensorLike, depth_factor: int, height_factor: int, width_factor: int, dim_ordering: str
) -> torch.Tensor:
    factors = (depth_factor, height_factor, width_factor)
    return _upsample("resize_volumes", X, factors, dim_ordering)


# --------------------------------------------------------------------------------------------
# Neural-network functions


def relu(x: TensorLike, alpha: float = 0.0, max_value: float | None = None) -> torch.Tensor:
    """Keras's leaky, capped relu: ``min(relu(x), max_value) - alpha * relu(-x)``."""
    x = _tensor("relu", x)
    out = torch.relu(x)
    if max_value is not None:
        out = torch.clamp(out, max=max_value)
    if alpha != 0.0:
        out = out - alpha * torch.relu(-x)
    return out


def elu(x: TensorLike, alpha: float = 1.0) -> torch.Tensor:
    """``x`` if positive, else ``alpha * (exp(x) - 1)``."""
    return F.elu(_tensor("elu", x), alpha)


def sigmoid(x: TensorLike) -> torch.Tensor:
    return torch.sigmoid(_tensor("sigmoid", x))


def hard_sigmoid(x: TensorLike) -> torch.Tensor:
    """Keras's ``clip(0.2 * x + 0.5, 0, 1)``, not torch's hardsigmoid (slope 1/6)."""
    return torch.clamp(0.2 * _tensor("hard_sigmoid", x) + 0.5, 0.0, 1.0)


def tanh(x: TensorLike) -> torch.Tensor:
    return torch.tanh(_tensor("tanh", x))


def softmax(x: TensorLike) -> torch.Tensor:
    """Over the last axis."""
    return torch.softmax(_tensor("softmax", x), dim=-1)


def softplus(x: TensorLike) -> torch.Tensor:
    """``log(1 + exp(x))``, computed without overflow."""
    return F.softplus(_tensor("softplus", x))


def softsign(x: TensorLike) -> torch.Tensor:
    """``x / (1 + |x|)``."""
    return F.softsign(_tensor("softsign", x))


def categorical_crossentropy(
    output: TensorLike, target: TensorLike, from_logits: bool = False
) -> torch.Tensor:
    """``-sum(target * log(output))`` over the last axis, per sample.

    Note Keras 1's order (output, target). Probabilities are renormalised to sum to 1 and
    clipped to ``[epsilon, 1 - epsilon]`` first, as Keras does, so the loss stays finite;
    logits go through log-softmax instead.
    """
    output, target = _pair("categorical_crossentropy", output, target)
    if from_logits:
        log_probs = torch.log_softmax(output, dim=-1)
    else:
        eps = _epsilon()
        probs = output / torch.sum(output, dim=-1, keepdim=True)
        log_probs = torch.log(torch.clamp(probs, eps, 1.0 - eps))
    return -torch.sum(target * log_probs, dim=-1)


def sparse_categorical_crossentropy(
    output: TensorLike, target: TensorLike, from_logits: bool = False
) -> torch.Tensor:
    """:func:`categorical_crossentropy` with class indices as targets.

    The targets hold one index per row of ``output`` (shape ``(b,)``, ``(b, 1)`` or
    ``(b, t, 1)``); floats are accepted because Keras feeds targets as floatx.
    """
    output = _tensor("sparse_categorical_crossentropy", output)
    target = _tensor("sparse_categorical_crossentropy", target, like=output)
    rows = output.shape[:-1]
    if target.numel() != rows.numel():
        raise ValueError(
            f"sparse_categorical_crossentropy: target must hold one class index per row of "
            f"output {tuple(output.shape)}, i.e. {rows.numel()} values; got shape "
            f"{tuple(target.shape)}"
        )
    classes = F.one_hot(target.reshape(rows).long(), output.shape[-1]).to(output.dtype)
    return categorical_crossentropy(output, classes, from_logits)


def binary_crossentropy(
    output: TensorLike, target: TensorLike, from_logits: bool = False
) -> torch.Tensor:
    """Element-wise ``-(t log p + (1 - t) log(1 - p))``, with ``p`` clipped to
    ``[epsilon, 1 - epsilon]`` as in Keras. Note the order (output, target)."""
    output, target = _pair("binary_crossentropy", output, target)
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = _epsilon()
    p = torch.clamp(output, eps, 1.0 - eps)
    return -(target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p))


def l2_normalize(x: TensorLike, axis: int) -> torch.Tensor:
    """``x / sqrt(max(sum(x**2), 1e-12))`` along ``axis``: the floor keeps zero vectors at 0."""
    x = _tensor("l2_normalize", x)
    squares = torch.sum(torch.square(x), dim=axis, keepdim=True)
    return x * torch.rsqrt(torch.clamp(squares, min=1e-12))


def in_top_k(predictions: TensorLike, targets: TensorLike, k: int) -> torch.Tensor:
    """Whether each sample's target class scores among its ``k`` best; ties at the boundary
    count as in, as in TensorFlow."""
    predictions = _tensor("in_top_k", predictions)
    targets = _indices("in_top_k", targets, like=predictions)
    target_scores = torch.gather(predictions, 1, targets.reshape(-1, 1))
    return torch.sum(predictions > target_scores, dim=1) < k


def batch_normalization(
    x: TensorLike,
    mean: TensorLike,
    var: TensorLike,
    beta: TensorLike | None,
    gamma: TensorLike | None,
    epsilon: float = 1e-3,
) -> torch.Tensor:
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta``, broadcasting as given."""
    x = _tensor("batch_normalization", x)
    mean, var = (_tensor("batch_normalization", t, like=x) for t in (mean, var))
    normed = (x - mean) / torch.sqrt(var + epsilon)
    if gamma is not None:
        normed = normed * _tensor("batch_normalization", gamma, like=x)
    if beta is not None:
        normed = normed + _tensor("batch_normalization", beta, like=x)
    return normed


def normalize_batch_in_training(
    x: TensorLike,
    gamma: TensorLike | None,
    beta: TensorLike | None,
    reduction_axes: Sequence[int],
    epsilon: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise by the batch's own statistics; also return them (the reduced axes dropped,
    variance biased) for the running averages."""
    fn = "normalize_batch_in_training"
    x = _tensor(fn, x)
    dims = _dims(fn, x, reduction_axes)
    batch_mean = torch.mean(x, dims)
    batch_var = _population_var(x, dims, keepdim=False)
    kept = [1 if d in dims else n for d, n in enumerate(x.shape)]

    def spread(t: Any) -> torch.Tensor | None:
        return None if t is None else _tensor(fn, t, like=x).reshape(kept)

    normed = batch_normalization(
        x, spread(batch_mean), spread(batch_var), spread(beta), spread(gamma), epsilon
    )
    return normed, batch_mean, batch_var


# --------------------------------------------------------------------------------------------
# Randomness


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A seed gives its own generator: reproducible, and the global RNG is left alone."""
    if seed is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def _bernoulli(
    fn: str, shape: Any, p: float, dtype: torch.dtype, seed: int | None, device: torch.device
) -> torch.Tensor:
    """Ones with probability ``p``, else zeros."""
    draw_dtype = dtype if dtype.is_floating_point else torch.float32
    uniform = torch.rand(
        _shape(fn, shape), generator=_generator(seed, device), dtype=draw_dtype, device=device
    )
    return (uniform < p).to(dtype)


def random_uniform(
    shape: Shape,
    low: float = 0.0,
    high: float = 1.0,
    dtype: DType = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Uniform on ``[low, high)``, on the model device (it is usually drawn in a forward pass)."""
    device = _device()
    uniform = torch.rand(
        _shape("random_uniform", shape),
        generator=_generator(seed, device),
        dtype=_float_dtype("random_uniform", dtype),
        device=device,
    )
    return uniform * (high - low) + low


def random_normal(
    shape: Shape,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: DType = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Gaussian noise on the model device (it is usually drawn in a forward pass)."""
    device = _device()
    normal = torch.randn(
        _shape("random_normal", shape),
        generator=_generator(seed, device),
        dtype=_float_dtype("random_normal", dtype),
        device=device,
    )
    return normal * std + mean


def random_binomial(
    shape: Shape, p: float = 0.0, dtype: DType = None, seed: int | None = None
) -> torch.Tensor:
    """Ones with probability ``p``, else zeros, on the model device."""
    resolved = _dtype("random_binomial", dtype)
    return _bernoulli("random_binomial", shape, p, resolved, seed, _device())


def dropout(
    x: TensorLike,
    level: float,
    noise_shape: Shape | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Zero a fraction ``level`` of ``x`` and scale the rest by ``1 / (1 - level)`` (inverted
    dropout, so nothing changes at test time). A ``noise_shape`` with 1s shares one draw along
    those axes. Always applied: layers choose the phase with :func:`in_train_phase`."""
    if not 0.0 <= level < 1.0:
        raise ValueError(f"dropout: level must be in [0, 1), got {level!r}")
    x = _tensor("dropout", x)
    retain = 1.0 - level
    mask_shape = x.shape if noise_shape is None else noise_shape
    mask = _bernoulli("dropout", mask_shape, retain, x.dtype, seed, x.device)
    return x * mask / retain


# --------------------------------------------------------------------------------------------
# Control flow and gradients


def in_train_phase(x: Any, alt: Any) -> Any:
    """``x`` while training (learning phase 1), else ``alt``; a callable branch is only called
    when chosen, so the unused one costs nothing."""
    return _choose(_learning_phase() == 1, x, alt)


def in_test_phase(x: Any, alt: Any) -> Any:
    """``x`` outside training (learning phase 0), else ``alt``."""
    return _choose(_learning_phase() == 0, x, alt)


def switch(condition: Any, then_expression: Any, else_expression: Any) -> Any:
    """A Python bool or int picks a branch (only the chosen callable runs); a tensor picks
    element-wise between both branches."""
    if isinstance(condition, (bool, int, np.bool_, np.integer)):
        return _choose(bool(condition), then_expression, else_expression)
    condition = _tensor("switch", condition)
    then_value, else_value = _pair("switch", _evaluate(then_expression), _evaluate(else_expression))
    return torch.where(condition.bool(), then_value, else_value)


def stop_gradient(variables: Any) -> Any:
    """Treat as a constant in the backward pass; a list gives a list."""
    if isinstance(variables, (list, tuple)):
        return [_tensor("stop_gradient", v).detach() for v in variables]
    return _tensor("stop_gradient", variables).detach()


def gradients(loss: torch.Tensor, variables: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
    """Gradients of ``sum(loss)`` (as TensorFlow's), themselves differentiable. A variable the
    loss does not depend on gets ``None``, as in TensorFlow."""
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise ValueError(
            "gradients: loss must be a tensor computed from tensors that require grad "
            "(variables), got one that does not"
        )
    return list(
        torch.autograd.grad(torch.sum(loss), list(variables), create_graph=True, allow_unused=True)
    )
