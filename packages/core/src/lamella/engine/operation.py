"""Backend ops on symbolic tensors, recorded as graph nodes: ``K.sum(z) * 2``, ``x[:, 0]``.

An op applied to symbolic tensors becomes a call of an :class:`Operation`, a small layer
holding the function and its non-tensor arguments.  The graph machinery (models, plans,
``summary``, configs) then sees one more layer, so an op's result can be a model's output,
a ``K.function`` output, or part of a loss.  The output shape is found by running the
function on tensors of torch's ``meta`` device, which computes shapes and dtypes and
nothing else; unknown dimensions get two different stand-in sizes, and a dimension that
follows the stand-in is unknown in the result.

While a training step computes a loss that closes over tensors of the model (Keras 1's
variational autoencoder), :func:`live_values` makes ops take those tensors' values from
the current forward pass instead of recording anything.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lamella.backend.config import torch_dtype
from lamella.engine.topology import KerasTensor, Layer, Shape, to_list

#: Stand-in sizes for unknown dimensions: two runs, so a size that follows them is unknown.
META_SIZES = (1009, 1013)
#: The same for trials on real (CPU) tensors, kept small so they cost little.
REAL_SIZES = (4, 6)
#: Inputs up to this many elements are tried on real tensors first.
REAL_ELEMENTS = 1 << 20


# --------------------------------------------------------------------------------------------
# Arguments: tensors pulled out of nested arguments, and put back


@dataclass(frozen=True)
class Slot:
    """Where the ``index``-th symbolic argument goes back into the arguments."""

    index: int


def _extract(value: Any, found: list[KerasTensor]) -> Any:
    if isinstance(value, KerasTensor):
        found.append(value)
        return Slot(len(found) - 1)
    if type(value) in (list, tuple):
        return type(value)(_extract(item, found) for item in value)
    if type(value) is dict:
        return {key: _extract(item, found) for key, item in value.items()}
    return value


def _fill(template: Any, values: Sequence[Any], convert: Callable[[Any], Any] | None) -> Any:
    if isinstance(template, Slot):
        return values[template.index]
    if type(template) in (list, tuple):
        return type(template)(_fill(item, values, convert) for item in template)
    if type(template) is dict:
        return {key: _fill(item, values, convert) for key, item in template.items()}
    return convert(template) if convert is not None else template


def _leaves(result: Any) -> tuple[list[Any], Any]:
    """The tensors of a (possibly nested) result, and its structure with slots for them."""
    found: list[Any] = []

    def walk(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            found.append(value)
            return Slot(len(found) - 1)
        if type(value) in (list, tuple):
            return type(value)(walk(item) for item in value)
        return value

    return found, walk(result)


# --------------------------------------------------------------------------------------------
# Shape inference


def _stand_in(shape: Shape, dtype: str, size: int, device: str, varied: bool) -> torch.Tensor:
    """Zeros; or, ``varied``, ones for integers and fixed uniform draws for floats."""
    dims = tuple(size if d is None else d for d in shape)
    resolved = torch_dtype(dtype)
    if not varied:
        return torch.zeros(dims, dtype=resolved, device=device)
    if resolved.is_floating_point:
        draw = torch.rand(dims, generator=torch.Generator().manual_seed(0), dtype=resolved)
        return draw.to(device)
    return torch.ones(dims, dtype=resolved, device=device)


def _on(device: str) -> Callable[[Any], Any]:
    """Constants as the trial sees them: a weight becomes a meta tensor of its shape, or a
    copy, so a trial of ``K.update(variable, ...)`` never writes the variable."""

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.detach().to("meta") if device == "meta" else value.detach().clone()
        return value

    return convert


def _constant_elements(template: Any) -> int:
    if isinstance(template, torch.Tensor):
        return template.numel()
    if type(template) in (list, tuple):
        return sum(_constant_elements(item) for item in template)
    if type(template) is dict:
        return sum(_constant_elements(item) for item in template.values())
    return 0


def _trial(
    fn: Callable[..., Any],
    template: Any,
    shapes: Sequence[Shape],
    dtypes: Sequence[str],
    size: int,
    device: str,
    varied: bool = False,
) -> tuple[list[torch.Tensor], Any]:
    values = [_stand_in(s, d, size, device, varied) for s, d in zip(shapes, dtypes, strict=True)]
    args, kwargs = _fill(template, values, _on(device))
    # What a trial prints (K.print_tensor of stand-ins) is not the user's output.
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        return _leaves(fn(*args, **kwargs))


def _trials(template: Any, shapes: Sequence[Shape]) -> list[tuple[str, tuple[int, int]]]:
    """Where to run the trials: small real tensors first (torch's first ``meta`` op imports
    its compiler, seconds once per process), ``meta`` for inputs too big to compute on."""
    elements = sum(math.prod(REAL_SIZES[1] if d is None else d for d in s) for s in shapes)
    if elements + _constant_elements(template) <= REAL_ELEMENTS:
        return [("cpu", REAL_SIZES), ("meta", META_SIZES)]
    return [("meta", META_SIZES), ("cpu", REAL_SIZES)]


def infer(
    fn: Callable[..., Any], template: Any, shapes: Sequence[Shape], dtypes: Sequence[str]
) -> tuple[list[Shape], list[str], Any]:
    """Output shapes (``None`` where unknown), dtypes and structure of ``fn`` on the inputs.

    Runs ``fn`` twice with two stand-in sizes for the unknown dimensions, on small real
    zeros or on the ``meta`` device (see :func:`_trials`); a real run is repeated on other
    values to find the sizes that follow the values (a decoded length).
    """
    errors = []
    for device, sizes in _trials(template, shapes):
        try:
            first, structure = _trial(fn, template, shapes, dtypes, sizes[0], device)
            second, _ = _trial(fn, template, shapes, dtypes, sizes[1], device)
        except Exception as error:  # any failure of the user's maths: try the next way
            errors.append(error)
            continue
        out_shapes = [
            tuple(a if a == b else None for a, b in zip(x.shape, y.shape, strict=True))
            for x, y in zip(first, second, strict=True)
        ]
        if device == "cpu":  # a size that follows the values (a decoded length) is unknown too
            with contextlib.suppress(Exception):
                third, _ = _trial(fn, template, shapes, dtypes, sizes[1], device, varied=True)
                out_shapes = [
                    tuple(a if a == b else None for a, b in zip(s, x.shape, strict=True))
                    for s, x in zip(out_shapes, third, strict=True)
                ]
        out_dtypes = [str(x.dtype).removeprefix("torch.") for x in first]
        return out_shapes, out_dtypes, structure
    raise ValueError(
        f"{_describe(fn)} cannot be applied to symbolic tensors of shapes {list(shapes)} "
        f"and dtypes {list(dtypes)}: {errors[0]}"
    ) from errors[0]


def _describe(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# --------------------------------------------------------------------------------------------
# The layer


class Operation(Layer):
    """A backend function applied to symbolic tensors: one node of the graph.

    ``template`` holds the call's arguments with :class:`Slot` markers where the tensor
    arguments go.  Saved by the function's registered name (see ``operation_functions``),
    never as code.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        template: Any,
        input_dtypes: Sequence[str] = (),
        name: str | None = None,
        **kwargs: Any,
    ):
        if name is None:
            from lamella.backend.state import get_uid

            prefix = function_name(function, strict=False) or "operation"
            name = f"{prefix.split('.')[-1]}_{get_uid(prefix)}"
        super().__init__(name=name, **kwargs)
        self.function = function
        self.template = template
        self.input_dtypes = list(input_dtypes)
        self.built = True
        self._structure: Any = None
        self._output_dtypes: list[str] = []

    # -- shapes -------------------------------------------------------------------------

    def _infer(self, shapes: list[Shape]) -> tuple[list[Shape], list[str], Any]:
        return infer(self.function, self.template, shapes, self.input_dtypes)

    def get_output_shape_for(self, input_shape: Any) -> Any:
        shapes = input_shape if len(self.input_dtypes) > 1 else [input_shape]
        out_shapes, self._output_dtypes, self._structure = self._infer(list(shapes))
        return out_shapes if len(out_shapes) != 1 else out_shapes[0]

    def output_dtypes(self, count: int) -> list[str]:
        return list(self._output_dtypes)

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return False

    # -- running ------------------------------------------------------------------------

    def call(self, x: Any, mask: Any = None) -> Any:
        values = x if len(self.input_dtypes) > 1 else [x]
        args, kwargs = _fill(self.template, values, None)
        leaves, _ = _leaves(self.function(*args, **kwargs))
        return leaves if len(leaves) != 1 else leaves[0]

    def restructure(self, outputs: Any) -> Any:
        """The symbolic result in the shape the function returns (a tuple, a list ...)."""
        return _fill(self._structure, to_list(outputs), None)

    # -- configuration ------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function": function_name(self.function, strict=True),
            "arguments": encode(self.template, self.name),
            "input_dtypes": list(self.input_dtypes),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Operation:
        config = dict(config)
        function = operation_functions().get(config.pop("function"))
        if function is None:
            raise ValueError(
                f"Operation {config.get('name')!r}: unknown function; only lamella's backend "
                "functions and Python operators can be loaded"
            )
        template = decode(config.pop("arguments"))
        return cls(function, template, **config)


class GradientOperation(Operation):
    """``K.gradients`` in a graph: gradients of input 0 with respect to the others.

    The inputs it differentiates need ``requires_grad`` before the loss is computed;
    a model or ``K.function`` whose plan holds one marks their slots (``grad_slots``).
    """

    def _infer(self, shapes: list[Shape]) -> tuple[list[Shape], list[str], Any]:
        args, _ = self.template
        variables = args[1]
        out_shapes, out_dtypes = [], []
        for item in variables:
            if isinstance(item, Slot):
                out_shapes.append(tuple(shapes[item.index]))
                out_dtypes.append(self.input_dtypes[item.index])
            else:
                out_shapes.append(tuple(item.shape))
                out_dtypes.append(str(item.dtype).removeprefix("torch."))
        return out_shapes, out_dtypes, [Slot(i) for i in range(len(variables))]

    @property
    def needs_autograd(self) -> bool:
        return True

    @property
    def constants(self) -> list[torch.Tensor]:
        """The weights among the variables: they must require grad while the graph runs."""
        args, _ = self.template
        return [item for item in args[1] if isinstance(item, torch.Tensor)]


def _gradients(loss: torch.Tensor, variables: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``sum(loss)``; zeros for a variable the loss does not depend on.

    Zeros rather than None so that a ``K.function`` output is always an array. The graph
    of the result is kept, so gradients of gradients work too.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "K.gradients in a graph needs autograd, but this call runs under "
            "torch.inference_mode (predict); evaluate it with K.function instead"
        )
    targets = list(variables)
    with torch.enable_grad():
        grads = torch.autograd.grad(
            torch.sum(loss), targets, retain_graph=True, create_graph=True, allow_unused=True
        )
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, targets, strict=True)]


def gradients_node(loss: Any, variables: list[Any]) -> list[KerasTensor]:
    """Record ``K.gradients(loss, variables)`` on a symbolic ``loss``."""
    if not isinstance(loss, KerasTensor):
        raise TypeError(
            "gradients: loss must be symbolic when a variable is, got "
            f"{type(loss).__name__}; compute both from the same model or placeholder"
        )
    for item in variables:
        if not isinstance(item, (KerasTensor, torch.Tensor)):
            raise TypeError(
                "gradients: each variable must be a symbolic tensor or a weight, got "
                f"{type(item).__name__}"
            )
    found: list[KerasTensor] = []
    template = _extract(((loss, list(variables)), {}), found)
    op = GradientOperation(_gradients, template, [t.dtype for t in found], name=None)
    outputs = op(found if len(found) > 1 else found[0])
    return to_list(outputs)


# --------------------------------------------------------------------------------------------
# Applying a function to symbolic tensors


_live: contextvars.ContextVar[LiveValues | None] = contextvars.ContextVar(
    "lamella_live_values", default=None
)


class LiveValues:
    """The values a forward pass gave the tensors of a graph, for ops met during a loss.

    ``known`` maps a symbolic tensor's id to its value; a tensor computed from known
    ones (an op recorded on the model's tensors) is evaluated from them on demand.
    """

    def __init__(self, known: dict[int, Any], owner: str):
        self.known = known
        self.owner = owner

    def value(self, tensor: KerasTensor) -> Any:
        found = self.known.get(id(tensor))
        if found is not None:
            return found
        node = tensor.layer.inbound_nodes[tensor.node_index]
        if not node.inbound_tensors:
            raise ValueError(
                f"{tensor.name} is an input that {self.owner} does not feed; a loss may only "
                f"use tensors computed from {self.owner}'s inputs"
            )
        inputs = [self.value(t) for t in node.inbound_tensors]
        outputs = node.outbound_layer.call(inputs if len(inputs) > 1 else inputs[0])
        for out_tensor, out_value in zip(node.output_tensors, to_list(outputs), strict=True):
            self.known[id(out_tensor)] = out_value
        return self.known[id(tensor)]


@contextlib.contextmanager
def live_values(known: dict[int, Any], owner: str) -> Iterator[None]:
    """Within, ops on symbolic tensors compute with their values in ``known``."""
    token = _live.set(LiveValues(known, owner))
    try:
        yield
    finally:
        _live.reset(token)


def evaluate(item: Any) -> Any:
    """A loss added with ``add_loss``, computed now: a symbolic tensor takes its live value,
    a callable is called, a tensor is itself."""
    live = _live.get()
    if isinstance(item, KerasTensor):
        if live is None:
            raise RuntimeError(f"{item.name} can only be evaluated inside a model's step")
        return live.value(item)
    return item() if callable(item) else item


def _collect(value: Any, depth: int, found: list[KerasTensor]) -> None:
    """Add the symbolic tensors that ``value`` holds (in containers, partials, functions)."""
    if isinstance(value, KerasTensor):
        if all(value is not f for f in found):
            found.append(value)
    elif depth > 3 or isinstance(value, type) or _is_module_level_library(value):
        return
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _collect(item, depth + 1, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, depth + 1, found)
    elif isinstance(value, functools.partial):
        _collect([value.func, value.args, value.keywords], depth + 1, found)
    elif callable(value):
        _collect_from_function(value, depth + 1, found)


def _code_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _code_names(const)
    return names


def _collect_from_function(fn: Any, depth: int, found: list[KerasTensor]) -> None:
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: look at what it holds
        _collect(list(getattr(fn, "__dict__", {}).values()), depth + 1, found)
        return
    cells = [cell.cell_contents for cell in fn.__closure__ or () if _filled(cell)]
    globals_ = getattr(fn, "__globals__", {})
    names = [globals_[name] for name in _code_names(code) if name in globals_]
    defaults = list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    for value in [*cells, *defaults, *names]:
        _collect(value, depth + 1, found)


def symbolic_tensors_used(fn: Any) -> list[KerasTensor]:
    """The symbolic tensors a loss or metric function reads from outside its arguments (a
    global, a closure, a default or an attribute), as Keras 1's variational autoencoder's
    loss reads ``z_mean``. Such a function is run with the forward pass's values of those
    tensors (:func:`live_values`)."""
    found: list[KerasTensor] = []
    _collect_from_function(fn, 0, found)
    return found


def differentiated(tensors: Sequence[Any]) -> list[KerasTensor]:
    """The tensors that the ``K.gradients`` upstream of ``tensors`` differentiate by."""
    found: list[KerasTensor] = []
    seen: set[int] = set()
    pending = [t for t in tensors if isinstance(t, KerasTensor)]
    while pending:
        node = (tensor := pending.pop()).layer.inbound_nodes[tensor.node_index]
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.outbound_layer, GradientOperation):
            found.extend(node.inbound_tensors[1:])
        pending.extend(node.inbound_tensors)
    return found


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def _is_module_level_library(value: Any) -> bool:
    """Modules and functions of installed libraries (torch, numpy, lamella) are not scanned."""
    module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
    if isinstance(value, type(functools)):
        return True
    return isinstance(module, str) and module.split(".")[0] in {"torch", "numpy", "lamella"}


def apply(function: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """``function(*args, **kwargs)`` where some arguments are symbolic tensors."""
    found: list[KerasTensor] = []
    template = _extract((tuple(args), dict(kwargs)), found)
    live = _live.get()
    if live is not None:
        call_args, call_kwargs = _fill(template, [live.value(t) for t in found], None)
        return function(*call_args, **call_kwargs)
    op = Operation(function, template, [t.dtype for t in found])
    outputs = op(found if len(found) > 1 else found[0])
    return op.restructure(outputs)


# --------------------------------------------------------------------------------------------
# Python operators on symbolic tensors


def _aligned(x: Any, y: Any) -> tuple[Any, Any]:
    """Constants next to a tensor join its device (and its float width, for numpy floats)."""
    if isinstance(x, torch.Tensor) and isinstance(y, np.ndarray):
        return x, _joining(y, x)
    if isinstance(y, torch.Tensor) and isinstance(x, np.ndarray):
        return _joining(x, y), y
    if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.device != y.device:
        if y.dim() == 0 or y.device.type == "cpu":
            return x, y.to(x.device)
        return x.to(y.device), y
    return x, y


def _joining(array: np.ndarray, tensor: torch.Tensor) -> torch.Tensor:
    dtype = tensor.dtype if array.dtype.kind == "f" and tensor.is_floating_point() else None
    return torch.as_tensor(array, device=tensor.device, dtype=dtype)


def _binary(op: Callable[[Any, Any], Any], name: str) -> Callable[[Any, Any], Any]:
    def compute(x: Any, y: Any) -> Any:
        return op(*_aligned(x, y))

    compute.__name__ = compute.__qualname__ = name
    return compute


def _getitem(x: Any, index: Any) -> Any:
    return x[index]


#: Python's operators on symbolic tensors, by the name a config stores.
OPERATORS: dict[str, Callable[..., Any]] = {
    "add": _binary(operator.add, "add"),
    "subtract": _binary(operator.sub, "subtract"),
    "multiply": _binary(operator.mul, "multiply"),
    "divide": _binary(operator.truediv, "divide"),
    "floor_divide": _binary(operator.floordiv, "floor_divide"),
    "mod": _binary(operator.mod, "mod"),
    "power": _binary(operator.pow, "power"),
    "matmul": _binary(operator.matmul, "matmul"),
    "logical_and": _binary(operator.and_, "logical_and"),
    "logical_or": _binary(operator.or_, "logical_or"),
    "logical_xor": _binary(operator.xor, "logical_xor"),
    "less": _binary(operator.lt, "less"),
    "less_equal": _binary(operator.le, "less_equal"),
    "greater": _binary(operator.gt, "greater"),
    "greater_equal": _binary(operator.ge, "greater_equal"),
    "negative": operator.neg,
    "positive": operator.pos,
    "absolute": operator.abs,
    "invert": operator.invert,
    "getitem": _getitem,
    "transpose": lambda x: x.permute(*reversed(range(x.dim()))),
}


def operate(name: str, *args: Any) -> Any:
    """Apply a Python operator by name to arguments among which one is symbolic."""
    return apply(OPERATORS[name], args, {})


# --------------------------------------------------------------------------------------------
# Configs: functions by name, arguments as JSON


@functools.cache
def operation_functions() -> dict[str, Callable[..., Any]]:
    """Every function an Operation may be saved with, by name: the backend's public
    functions (``K.sum`` ...), the Python operators, and ``gradients``."""
    from lamella import backend

    table: dict[str, Callable[..., Any]] = {}
    for name in backend.__all__:
        plain = getattr(getattr(backend, name), "__lamella_op__", None)
        if plain is not None:
            table[f"K.{name}"] = plain
    table.update((f"operator.{name}", fn) for name, fn in OPERATORS.items())
    table["K.gradients"] = _gradients
    return table


def function_name(function: Callable[..., Any], strict: bool) -> str | None:
    """The registered name of ``function``; ``strict`` makes an unregistered one an error."""
    for name, candidate in operation_functions().items():
        if candidate is function:
            return name
    if strict:
        raise ValueError(
            f"The graph applies {_describe(function)} to symbolic tensors; only lamella's "
            "backend functions (K.*) and Python operators can be saved in a config"
        )
    return getattr(function, "__name__", None)


def encode(value: Any, owner: str) -> Any:
    """Arguments as JSON-compatible data; tensors and functions are refused."""
    if isinstance(value, Slot):
        return {"tensor": value.index}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, slice):
        return {"slice": [encode(v, owner) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if type(value) is tuple:
        return {"tuple": [encode(v, owner) for v in value]}
    if type(value) is list:
        return [encode(v, owner) for v in value]
    if type(value) is dict:
        return {"dict": [[key, encode(v, owner)] for key, v in value.items()]}
    if isinstance(value, np.ndarray) and not isinstance(value, torch.Tensor):
        return {"array": value.tolist(), "array_dtype": str(value.dtype)}
    raise ValueError(
        f"Operation {owner}: an argument of type {type(value).__name__} cannot be saved in a "
        "config (weights, tensors and functions are kept in memory only)"
    )


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`; builds only plain data, never calls anything."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "tensor" in value:
        return Slot(int(value["tensor"]))
    if "slice" in value:
        return slice(*(decode(v) for v in value["slice"]))
    if "ellipsis" in value:
        return Ellipsis
    if "dtype" in value:
        return torch_dtype(value["dtype"])
    if "tuple" in value:
        return tuple(decode(v) for v in value["tuple"])
    if "dict" in value:
        return {key: decode(v) for key, v in value["dict"]}
    if "array" in value:
        dtype = np.dtype(value["array_dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"Operation arguments hold numbers only, got dtype {dtype}")
        return np.asarray(value["array"], dtype=dtype)
    raise ValueError(f"Unreadable operation argument {value!r}")


__all__ = [
    "GradientOperation",
    "LiveValues",
    "Operation",
    "apply",
    "differentiated",
    "evaluate",
    "gradients_node",
    "infer",
    "live_values",
    "operate",
    "symbolic_tensors_used",
]
