"""``K.function`` and ``K.placeholder``: evaluating symbolic graphs on torch.

A function is a graph from input tensors to output tensors, run like a model: the
same container and execution plan, without the training parts.  Calling it converts
numpy arrays to tensors on the graph's device, runs the plan in the learning phase it
was fed (or the current one), applies the updates, and returns numpy arrays.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from lamella.backend.config import device as default_device
from lamella.backend.config import floatx, torch_dtype
from lamella.backend.state import learning_phase, learning_phase_scope
from lamella.engine.container import Container
from lamella.engine.data import to_numpy
from lamella.engine.operation import GradientOperation
from lamella.engine.topology import (
    Input,
    KerasTensor,
    LearningPhaseTensor,
    to_list,
)


def placeholder(
    shape: Sequence[int | None] | None = None,
    ndim: int | None = None,
    dtype: Any = None,
    name: str | None = None,
) -> KerasTensor:
    """A symbolic input; ``shape`` includes the batch axis, ``None`` where unknown."""
    if shape is None:
        if ndim is None:
            raise ValueError("placeholder: give shape= (batch axis included) or ndim=")
        shape = (None,) * int(ndim)
    dtype = floatx() if dtype is None else str(dtype).removeprefix("torch.")
    return Input(batch_shape=tuple(shape), dtype=dtype, name=name)


class Function:
    """``K.function(inputs, outputs, updates)``: call it with a list of arrays.

    ``inputs`` are placeholders or ``Input`` tensors, ``K.learning_phase()`` among them
    if the caller wants to choose the phase (0 test, 1 train; the current phase
    otherwise).  ``outputs`` are symbolic tensors (or weights, returned as they are).
    ``updates`` are ``(variable, new_value)`` pairs assigned after each call, or the
    results of ``K.update``-style ops on symbolic values.  A new value computed from
    variables alone is a torch tensor computed once, when written (variables are not
    symbolic here); give a zero-argument callable (``lambda: v + 1``) to recompute it
    at each call.  Extra keywords are Theano/TensorFlow options,
    accepted with a warning.
    """

    def __init__(
        self, inputs: Any, outputs: Any, updates: Any = None, name: str | None = None, **kwargs: Any
    ):
        if kwargs:
            warnings.warn(
                f"K.function: the backend options {sorted(kwargs)} have no meaning on torch "
                "and are ignored",
                stacklevel=3,
            )
        self.inputs = to_list(inputs)
        self.outputs = to_list(outputs)
        self._phase_at = [
            i for i, t in enumerate(self.inputs) if isinstance(t, LearningPhaseTensor)
        ]
        fed = [t for t in self.inputs if not isinstance(t, LearningPhaseTensor)]
        for tensor in fed:
            if not isinstance(tensor, KerasTensor):
                raise TypeError(
                    "K.function: inputs must be placeholders, Input tensors or "
                    f"K.learning_phase(), got {type(tensor).__name__}"
                )
        self._assignments: list[tuple[torch.Tensor, Any]] = []
        effects: list[KerasTensor] = []
        for update in to_list(updates) if updates is not None else []:
            if isinstance(update, (list, tuple)) and len(update) == 2:
                self._assignments.append((update[0], update[1]))
            elif isinstance(update, KerasTensor):
                effects.append(update)  # an op that assigns when it runs (K.update ...)
            else:
                raise TypeError(
                    "K.function: each update must be a (variable, new_value) pair or the "
                    f"result of K.update/K.update_add, got {update!r}"
                )
        computed = [o for o in self.outputs if isinstance(o, KerasTensor)]
        computed += [v for _, v in self._assignments if isinstance(v, KerasTensor)]
        computed += effects
        self._graph = Container(fed, computed, name=name) if computed else None
        #: Variables the updates write: their values are the updates', not restored.
        self._written = {id(v) for v, _ in self._assignments} | {
            id(item)
            for effect in effects
            for item in _constants(getattr(effect.layer, "template", None))
        }

    # -- calling ------------------------------------------------------------------------

    def __call__(self, inputs: Sequence[Any]) -> list[Any]:
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(self.inputs):
            raise ValueError(
                f"K.function: expected {len(self.inputs)} input value(s), got {len(values)}"
            )
        phase = learning_phase()
        for index in self._phase_at:
            phase = int(np.asarray(values[index]).item())
            if phase not in (0, 1):
                raise ValueError(f"K.function: the learning phase must be 0 or 1, got {phase}")
        fed = [v for i, v in enumerate(values) if i not in self._phase_at]
        results = self._run(fed, phase) if self._graph is not None else []
        by_tensor = (
            dict(zip((id(t) for t in self._graph.outputs), results, strict=True))
            if self._graph is not None
            else {}
        )
        with torch.no_grad():
            for variable, value in self._assignments:
                new = value() if callable(value) else by_tensor.get(id(value), value)
                variable.copy_(torch.as_tensor(new, dtype=variable.dtype, device=variable.device))
        found = [by_tensor.get(id(o), o) for o in self.outputs]
        return [to_numpy(v) if isinstance(v, torch.Tensor) else v for v in found]

    def _run(self, values: list[Any], phase: int) -> list[Any]:
        graph = self._graph
        device = self._device()
        tensors = [
            torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v).to(
                device=device, dtype=torch_dtype(t.dtype)
            )
            for v, t in zip(values, graph.inputs, strict=True)
        ]
        with contextlib.ExitStack() as stack:
            stack.enter_context(learning_phase_scope(phase))
            stack.enter_context(_modes(graph, phase == 1))
            stack.enter_context(_kept_state(graph, self._written))
            if graph.needs_autograd:
                stack.enter_context(torch.enable_grad())
                stack.enter_context(_weights_requiring_grad(graph))
            else:
                stack.enter_context(torch.no_grad())
            return graph.run_masked(tensors)[0]

    def _device(self) -> torch.device:
        for tensor in self._graph.parameters():
            return tensor.device
        for tensor in self._graph.buffers():
            return tensor.device
        return default_device()


@contextlib.contextmanager
def _modes(graph: Container, training: bool) -> Iterator[None]:
    """Train or eval mode for the layers of the graph (dropout, noise, batch statistics)."""
    before = [(module, module.training) for module in graph.modules()]
    graph.train(training)
    try:
        yield
    finally:
        for module, mode in before:
            module.training = mode


def _constants(template: Any) -> Iterator[torch.Tensor]:
    """The tensors held in an operation's arguments (the variable a ``K.update`` writes)."""
    if isinstance(template, torch.Tensor):
        yield template
    elif isinstance(template, (list, tuple)):
        for item in template:
            yield from _constants(item)
    elif isinstance(template, dict):
        for item in template.values():
            yield from _constants(item)


@contextlib.contextmanager
def _kept_state(graph: Container, written: set[int]) -> Iterator[None]:
    """Running statistics and recurrent states as they were: a Keras function changes
    variables only through the updates it is given."""
    saved = [(b, b.detach().clone()) for b in graph.buffers() if id(b) not in written]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


@contextlib.contextmanager
def _weights_requiring_grad(graph: Container) -> Iterator[None]:
    """Weights that a ``K.gradients`` differentiates by require grad while it runs, even in
    layers frozen with ``trainable = False``."""
    weights = [
        w
        for layer in graph.layers
        if isinstance(layer, GradientOperation)
        for w in layer.constants
        if not w.requires_grad
    ]
    for weight in weights:
        weight.requires_grad_(True)
    try:
        yield
    finally:
        for weight in weights:
            weight.requires_grad_(False)
