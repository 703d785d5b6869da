"""The optimizer state in Keras 1's order and layouts, for files both ways.

A lamella optimizer keeps, for each slot (Adam's ``m`` and ``v``), one tensor per
trainable Parameter, in the order ``compile`` binds them (sorted by name).  Keras 1 keeps
one per trainable *weight*, also sorted by name.  Most layers' weights are their
Parameters, but a recurrent layer shows each fused Parameter as several Keras weights:
an LSTM's ``weight_ih (4n, in)`` is ``W_i, W_f, W_c, W_o``, each a transposed block of
rows.  Such a weight is a view of its Parameter, and a state tensor has its Parameter's
shape and strides, so the same view of the state tensor is the Keras weight's state.
Saving takes the state through those views, in the sorted order of the Keras names;
loading writes through them (README: "Optimizer state").

The optimizer's ``weights`` must follow core's protocol: ``iterations`` first where the
optimizer saves it, then each slot for every parameter.  ``torch.optim`` optimizers
(``TorchOptimizer``, whose state is per parameter) and layers whose weights are not
views of their Parameters keep lamella's own order, under Theano's ``param_<i>`` names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lamella.engine.optimizer import TorchOptimizer

#: The dataset names of state saved in the optimizer's own order (Theano's names); any
#: other names in a lamella file mean Keras's order.
_OWN_ORDER = re.compile(r"param_\d+")


@dataclass(frozen=True)
class Piece:
    """One Keras weight: its name, the Parameter it is a view of (an index into the
    optimizer's parameters), and the view's geometry relative to that Parameter."""

    name: str
    param: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int

    def of(self, tensor: torch.Tensor) -> torch.Tensor:
        """This weight's view of ``tensor``, laid out as the Parameter is."""
        return tensor.as_strided(self.size, self.stride, tensor.storage_offset() + self.offset)


@dataclass(frozen=True)
class Layout:
    """How the optimizer's state maps to Keras's: the saved head (``iterations``), the
    slots, and the Keras weights in saved order."""

    params: list[torch.Tensor]
    head: int
    slot_names: list[str]
    pieces: list[Piece]


def _pieces(model: Any, params: list[torch.Tensor]) -> list[Piece] | None:
    """The Keras weights of ``params`` sorted by name, or None when some Parameter is not
    split exactly into named views (then Keras's order cannot be given)."""
    index = {id(p): i for i, p in enumerate(params)}
    views: dict[int, dict[tuple[Any, ...], Piece]] = {i: {} for i in range(len(params))}
    pending, seen = [model], set()
    while pending:
        layer = pending.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        pending.extend(layer._sublayers())
        for weight in layer.weights:
            base = weight if id(weight) in index else weight._base
            if base is None or id(base) not in index or base is weight:
                continue
            name = getattr(weight, "_keras_name", None)
            if name is None:
                return None
            offset = weight.storage_offset() - base.storage_offset()
            piece = Piece(name, index[id(base)], tuple(weight.shape), weight.stride(), offset)
            views[piece.param][piece.size, piece.stride, piece.offset] = piece
    pieces = []
    for i, p in enumerate(params):
        own = list(views[i].values())
        if not own:
            name = getattr(p, "_keras_name", None)
            if name is None:
                return None
            own = [Piece(name, i, tuple(p.shape), p.stride(), 0)]
        elif not _tiles(p, own):
            return None
        pieces += own
    names = [piece.name for piece in pieces]
    if len(set(names)) != len(names):
        return None
    return sorted(pieces, key=lambda piece: piece.name)


def _tiles(param: torch.Tensor, pieces: list[Piece]) -> bool:
    """Whether the views cover every element of ``param`` exactly once."""
    count = torch.empty_strided(param.shape, param.stride(), dtype=torch.int32).zero_()
    for piece in pieces:
        piece.of(count).add_(1)
    return bool((count == 1).all())


def layout(model: Any) -> Layout | None:
    """The mapping of ``model.optimizer``'s state to Keras's, or None where there is none."""
    optimizer = model.optimizer
    params = list(optimizer.params)
    state = optimizer.weights
    if isinstance(optimizer, TorchOptimizer) or not params:
        return None
    head = 1 if state and state[0] is optimizer.iterations else 0
    slots, rest = divmod(len(state) - head, len(params))
    if rest or any(
        state[head + s * len(params) + i].shape != p.shape
        for s in range(slots)
        for i, p in enumerate(params)
    ):
        return None
    pieces = _pieces(model, params)
    if pieces is None:
        return None
    names = list(getattr(optimizer, "slot_names", ()))
    if len(names) != slots:
        names = [f"slot{s}" for s in range(slots)]
    return Layout(params, head, names, pieces)


def _strided_like(param: torch.Tensor, value: Any) -> torch.Tensor:
    """A CPU tensor with ``param``'s shape and strides holding ``value``."""
    result = torch.empty_strided(param.shape, param.stride(), dtype=param.dtype)
    return result.copy_(torch.as_tensor(np.asarray(value)))


def saved_state(model: Any) -> tuple[list[str], list[np.ndarray]]:
    """The dataset names and arrays of ``/optimizer_weights``: Keras's weights and order
    where :func:`layout` finds the mapping, else the optimizer's own under ``param_<i>``."""
    state = model.optimizer.get_weights()
    found = layout(model)
    if found is None:
        return [f"param_{i}" for i in range(len(state))], state
    names = ["iterations"] * found.head
    arrays = state[: found.head]
    count = len(found.params)
    for s, slot in enumerate(found.slot_names):
        tensors = [
            _strided_like(p, state[found.head + s * count + i]) for i, p in enumerate(found.params)
        ]
        for piece in found.pieces:
            names.append(f"{slot}_{piece.name}")
            arrays.append(piece.of(tensors[piece.param]).numpy().copy())
    return names, arrays


def keras_state(
    model: Any, names: list[str], backend: str | None, arrays: list[np.ndarray]
) -> list[np.ndarray]:
    """The file's state in the optimizer's own order, for ``optimizer.set_weights``.

    A lamella file whose names are ``param_<i>`` holds the optimizer's own order
    (written so before Keras's order, or for a ``torch.optim`` optimizer); any other
    file holds Keras's.  State that does not fit Keras's layout is returned as it is,
    for ``set_weights`` to accept or refuse.
    """
    if backend == "pytorch" and all(_OWN_ORDER.fullmatch(name) for name in names):
        return arrays
    found = layout(model)
    if found is None:
        return arrays
    pieces, count = found.pieces, len(found.params)
    expected = found.head + len(found.slot_names) * len(pieces)
    if len(arrays) != expected or any(
        np.shape(arrays[found.head + s * len(pieces) + k]) != piece.size
        for s in range(len(found.slot_names))
        for k, piece in enumerate(pieces)
    ):
        return arrays
    result = list(arrays[: found.head])
    for s in range(len(found.slot_names)):
        tensors = [torch.empty_strided(p.shape, p.stride(), dtype=p.dtype) for p in found.params]
        for k, piece in enumerate(pieces):
            value = torch.as_tensor(np.asarray(arrays[found.head + s * len(pieces) + k]))
            piece.of(tensors[piece.param]).copy_(value)
        result += [tensors[i].numpy() for i in range(count)]
    return result
