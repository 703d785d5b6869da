"""Keras 1's loops over tensors: ``K.rnn``, ``K.map_fn``, ``K.foldl`` and ``K.foldr``.

Each is a Python loop calling the user's function eagerly, so whatever the function does is
differentiated by autograd through every step, as Keras's symbolic loops were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lamella.backend.ops import TensorLike, _tensor

__all__ = ["foldl", "foldr", "map_fn", "rnn"]

StepFunction = Callable[[torch.Tensor, list[Any]], tuple[torch.Tensor, Sequence[torch.Tensor]]]


def _step_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``(samples,)`` step mask shaped to broadcast against ``like``."""
    return mask.reshape(mask.shape[0], *([1] * (like.ndim - 1)))


def _keep(fn: str, mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new`` where the mask is set, ``old`` (the previous value) where it is not."""
    if new.shape != old.shape:
        raise ValueError(
            f"{fn}: with a mask, the step function must return outputs and states of the "
            f"shapes it was given (the output must have the shape of states[0]); got "
            f"{tuple(new.shape)} for {tuple(old.shape)}"
        )
    return torch.where(_step_mask(mask, new), new, old)


def rnn(
    step_function: StepFunction,
    inputs: TensorLike,
    initial_states: Sequence[TensorLike],
    go_backwards: bool = False,
    mask: TensorLike | None = None,
    constants: Sequence[Any] | None = None,
    unroll: bool = False,
    input_length: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Run ``step_function(input_t, states + constants) -> (output_t, new_states)`` over the
    time axis (axis 1) of ``inputs`` and return ``(last_output, outputs, new_states)``.

    ``outputs`` is ``(samples, time, ...)`` in the order the steps ran (reversed with
    ``go_backwards``). ``mask`` is ``(samples, time)`` or ``(samples, time, 1)``; at a masked
    step every state keeps its value and the output repeats ``states[0]`` (which Keras requires
    to be the previous output), as Keras's TensorFlow backend does, so states are required
    with a mask. ``unroll`` and ``input_length`` chose how Keras built its symbolic loop and
    change nothing here.
    """
    fn = "rnn"
    inputs = _tensor(fn, inputs)
    if inputs.ndim < 3:
        raise ValueError(
            f"rnn: inputs must be at least 3D (samples, time, ...), got shape {tuple(inputs.shape)}"
        )
    steps = inputs.shape[1]
    if steps == 0:
        raise ValueError("rnn: inputs have no time steps (axis 1 has size 0)")
    states = [_tensor(fn, state, like=inputs) for state in initial_states]
    constants = list(constants) if constants is not None else []
    if mask is not None:
        mask = _tensor(fn, mask, like=inputs)
        if mask.ndim == 3 and mask.shape[2] == 1:
            mask = mask[:, :, 0]
        if tuple(mask.shape) != tuple(inputs.shape[:2]):
            raise ValueError(
                f"rnn: mask must have shape (samples, time) = {tuple(inputs.shape[:2])} "
                f"(or with a trailing 1), got {tuple(mask.shape)}"
            )
        if not states:
            raise ValueError(
                "rnn: a mask needs initial states: at a masked step the output repeats "
                "states[0], which the step function must keep as its previous output"
            )
        mask = mask.bool()

    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs = []
    for t in order:
        output, new_states = step_function(inputs[:, t], states + constants)
        new_states = list(new_states)
        if len(new_states) != len(states):
            raise ValueError(
                f"rnn: the step function returned {len(new_states)} states for {len(states)} given"
            )
        if mask is not None:
            output = _keep(fn, mask[:, t], output, states[0])
            new_states = [
                _keep(fn, mask[:, t], new, old) for new, old in zip(new_states, states, strict=True)
            ]
        outputs.append(output)
        states = new_states
    return outputs[-1], torch.stack(outputs, dim=1), states


def _elements(fn: str, elems: Any) -> torch.Tensor:
    elems = _tensor(fn, elems)
    if elems.ndim == 0 or elems.shape[0] == 0:
        raise ValueError(
            f"{fn}: elems must have at least one element along axis 0, got shape "
            f"{tuple(elems.shape)}"
        )
    return elems


def map_fn(
    fn: Callable[[torch.Tensor], torch.Tensor], elems: TensorLike, name: str | None = None
) -> torch.Tensor:
    """``fn`` applied to each slice ``elems[i]``, the results stacked along a new axis 0.

    ``name`` named the graph node in Keras and is ignored.
    """
    elems = _elements("map_fn", elems)
    return torch.stack([_tensor("map_fn", fn(item)) for item in elems.unbind(0)])


def foldl(
    fn: Callable[[Any, torch.Tensor], Any],
    elems: TensorLike,
    initializer: Any = None,
    name: str | None = None,
) -> Any:
    """``fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[-1])``; without an
    initializer, ``elems[0]`` starts and the fold runs over the rest."""
    items = list(_elements("foldl", elems).unbind(0))
    accumulator = items.pop(0) if initializer is None else initializer
    for item in items:
        accumulator = fn(accumulator, item)
    return accumulator


def foldr(
    fn: Callable[[Any, torch.Tensor], Any],
    elems: TensorLike,
    initializer: Any = None,
    name: str | None = None,
) -> Any:
    """:func:`foldl` from the right: ``fn(acc, elems[i])`` for ``i`` from last to first;
    without an initializer, ``elems[-1]`` starts."""
    items = list(_elements("foldr", elems).unbind(0))
    accumulator = items.pop() if initializer is None else initializer
    for item in reversed(items):
        accumulator = fn(accumulator, item)
    return accumulator
