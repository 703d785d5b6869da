"""Backend functions on symbolic tensors: the check that sends them to the graph.

Keras 1 code applies ``K`` functions to the tensors that ``Input`` and layer calls return
(``K.sum(z_mean)``, ``K.gradients(loss, model.input)``).  Every public backend function is
wrapped here once: when an argument is symbolic, the call is recorded as a graph node
(``lamella.engine.operation``); otherwise it runs on torch tensors as before, after one
cheap look at its arguments.  lamella's own layers call torch directly, so the training
loop never pays for the check.

The graph lives in the engine, which imports the backend; this module only knows the
marker class and imports the engine when a symbolic argument actually shows up.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "SymbolicTensor",
    "clear_session",
    "function",
    "gradients",
    "is_keras_tensor",
    "learning_phase",
    "placeholder",
]


class SymbolicTensor:
    """What every symbolic tensor derives from (the engine's ``KerasTensor``)."""

    __slots__ = ()


def has_symbolic(items: Iterable[Any]) -> bool:
    """Whether any item, or any item of a list or tuple among them, is symbolic."""
    for item in items:
        if isinstance(item, SymbolicTensor):
            return True
        if type(item) in (list, tuple) and any(isinstance(i, SymbolicTensor) for i in item):
            return True
    return False


#: Functions whose branches may be callables, which they call only when chosen.
BRANCHING = frozenset({"switch", "in_train_phase", "in_test_phase"})


def _called_branches(args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Callable branches that read symbolic tensors, called now: the graph then holds both
    branches and picks one when it runs, as Keras 1's graphs do. Other callables stay lazy."""
    from lamella.engine.operation import symbolic_tensors_used

    def resolve(value: Any) -> Any:
        return value() if callable(value) and symbolic_tensors_used(value) else value

    return tuple(resolve(a) for a in args), {k: resolve(v) for k, v in kwargs.items()}


def accepting_symbolic(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as it is on torch tensors, recorded as a graph node on symbolic ones."""
    branching = fn.__name__ in BRANCHING

    @functools.wraps(fn)
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        if branching and any(callable(a) for a in (*args, *kwargs.values())):
            args, kwargs = _called_branches(args, kwargs)
        if has_symbolic(args) or (kwargs and has_symbolic(kwargs.values())):
            from lamella.engine.operation import apply

            return apply(fn, args, kwargs)
        return fn(*args, **kwargs)

    dispatch.__lamella_op__ = fn  # the plain function, for the graph and its configs
    return dispatch


def _count_params(tensor: Any) -> int:
    if any(d is None for d in tensor.shape):
        raise ValueError(
            f"count_params: the shape {tensor.shape} of {tensor.name} has unknown dimensions"
        )
    return math.prod(tensor.shape)


def _is_sparse(tensor: Any) -> bool:
    return bool(getattr(tensor.layer, "sparse", False))


#: Shape queries answer from the shape a symbolic tensor already knows.
SHAPE_QUERIES: dict[str, Callable[[Any], Any]] = {
    "is_sparse": _is_sparse,
    "shape": lambda t: t.shape,
    "int_shape": lambda t: t.shape,
    "get_variable_shape": lambda t: t.shape,
    "ndim": lambda t: len(t.shape),
    "dtype": lambda t: t.dtype,
    "count_params": _count_params,
}


def answering_from_shape(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as it is on torch tensors; on a symbolic tensor, the answer its shape gives."""
    query = SHAPE_QUERIES[fn.__name__]

    @functools.wraps(fn)
    def dispatch(x: Any) -> Any:
        if isinstance(x, SymbolicTensor):
            return query(x)
        return fn(x)

    return dispatch


#: Functions that take no tensors to record (they make variables, read or write values).
NOT_RECORDED = frozenset(
    {
        "variable",
        "zeros",
        "ones",
        "eye",
        "arange",
        "random_uniform",
        "random_normal",
        "random_binomial",
        "random_uniform_variable",
        "random_normal_variable",
        "get_value",
        "eval",
        "batch_get_value",
        "set_value",
        "batch_set_value",
        "gradients",
    }
)


def wrap_namespace(namespace: dict[str, Any], names: Iterable[str]) -> None:
    """Replace each named function in ``namespace`` by its symbolic-aware version."""
    for name in names:
        fn = namespace[name]
        if name in NOT_RECORDED or not callable(fn) or hasattr(fn, "__lamella_op__"):
            continue
        if name in SHAPE_QUERIES:
            namespace[name] = answering_from_shape(fn)
        else:
            namespace[name] = accepting_symbolic(fn)


def wrap_functions(namespace: dict[str, Any], names: Iterable[str]) -> None:
    """Make the named functions of a module (losses, metrics) symbolic-aware, their aliases
    included: every name bound to one function gets the same wrapper."""
    wrappers: dict[int, Callable[..., Any]] = {}
    for name in names:
        fn = namespace[name]
        if id(fn) not in wrappers and not hasattr(fn, "__lamella_op__"):
            wrappers[id(fn)] = accepting_symbolic(fn)
    for name, value in list(namespace.items()):
        if id(value) in wrappers:
            namespace[name] = wrappers[id(value)]


def is_keras_tensor(x: Any) -> bool:
    """Whether ``x`` is a symbolic tensor (from ``Input``, a layer call or a ``K`` op)."""
    return isinstance(x, SymbolicTensor)


def clear_session() -> None:
    """Start names afresh (``dense_1`` ...) and unfix the learning phase, as Keras 1 does
    between models; models already built keep working."""
    from lamella.backend import state

    state.reset_uids()
    state.unfix_learning_phase()


# The symbolic API proper lives in the engine; these are its backend spellings.


def placeholder(
    shape: Any = None, ndim: int | None = None, dtype: Any = None, name: str | None = None
) -> Any:
    """A symbolic input of the given shape (``None`` where unknown) or rank."""
    from lamella.engine.function import placeholder as make

    return make(shape, ndim, dtype, name)


def learning_phase() -> Any:
    """The learning-phase placeholder: feed it 0 (test) or 1 (train) to a ``K.function``.

    Inside a running step it reads as the current phase: ``int(K.learning_phase())``.
    After ``K.set_learning_phase(value)`` it is that number, as in Keras 1.
    """
    from lamella.backend.state import learning_phase as current
    from lamella.backend.state import learning_phase_is_fixed
    from lamella.engine.topology import learning_phase_tensor

    return current() if learning_phase_is_fixed() else learning_phase_tensor()


def function(inputs: Any, outputs: Any, updates: Any = None, **kwargs: Any) -> Any:
    """A callable from a list of input arrays to a list of output arrays (numpy)."""
    from lamella.engine.function import Function

    return Function(inputs, outputs, updates, **kwargs)


def gradients(loss: Any, variables: Any) -> list[Any]:
    """Gradients of ``loss`` (summed) with respect to each of ``variables``: a list.

    On symbolic tensors the result is symbolic; on torch tensors it is computed at once.
    """
    from lamella.backend.ops import gradients as eager

    variables = list(variables) if isinstance(variables, (list, tuple)) else [variables]
    if isinstance(loss, SymbolicTensor) or has_symbolic(variables):
        from lamella.engine.operation import gradients_node

        return gradients_node(loss, variables)
    return eager(loss, variables)
