"""Sharing one model between threads: who sets its layers' train/eval flags, and when.

``nn.Module.training`` belongs to the model, not to a call, so a call that flips it
changes it for every thread. Inference calls (``predict``, ``evaluate`` and their
batch and generator forms) therefore share inference mode: the first one to start
puts the modules that are in training mode into eval mode, the last one to finish
puts exactly those back, and a model already in eval mode (as ``fit`` leaves it) is
not touched at all. Training (``fit``, ``fit_generator``, ``train_on_batch``) sets
the flags for its own thread; an inference call from another thread while it runs,
or training while another thread runs inference or training, is refused, since one
of them would run in the other's mode. Calls from the training thread itself
(callbacks, validation) take their turn as usual.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

from torch import nn


class _Turns:
    """The threads using one model now, and the modules inference took out of training."""

    __slots__ = ("depth", "lock", "readers", "restore", "trainer", "trainer_call")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.readers: dict[int, int] = {}  # thread -> inference calls running in it
        self.restore: list[nn.Module] = []
        self.trainer: int | None = None
        self.trainer_call = ""
        self.depth = 0


_TURNS: weakref.WeakKeyDictionary[nn.Module, _Turns] = weakref.WeakKeyDictionary()
_CREATING = threading.Lock()


def _turns(model: nn.Module) -> _Turns:
    turns = _TURNS.get(model)
    if turns is None:
        with _CREATING:
            turns = _TURNS.setdefault(model, _Turns())
    return turns


def _name(model: nn.Module) -> str:
    return str(getattr(model, "name", type(model).__name__))


@contextlib.contextmanager
def inference(model: nn.Module, call: str) -> Iterator[None]:
    """Run the block with every module of ``model`` in eval mode, shared with other threads."""
    turns = _turns(model)
    me = threading.get_ident()
    with turns.lock:
        if turns.trainer is not None and turns.trainer != me:
            raise RuntimeError(
                f"{call}: model {_name(model)} is being trained by {turns.trainer_call} in "
                "another thread; its layers are in training mode and its weights change. "
                "Predict from the training thread (in a callback), after training, or with "
                "a copy of the model"
            )
        if not turns.readers:
            turns.restore = [module for module in model.modules() if module.training]
            for module in turns.restore:
                module.training = False
        turns.readers[me] = turns.readers.get(me, 0) + 1
    try:
        yield
    finally:
        with turns.lock:
            left = turns.readers.pop(me) - 1
            if left:
                turns.readers[me] = left
            elif not turns.readers:
                for module in turns.restore:
                    module.training = True
                turns.restore = []


@contextlib.contextmanager
def training(model: nn.Module, call: str) -> Iterator[None]:
    """Own ``model``'s train/eval flags for the block; nested calls in this thread are fine."""
    turns = _turns(model)
    me = threading.get_ident()
    with turns.lock:
        if turns.trainer is not None and turns.trainer != me:
            raise RuntimeError(
                f"{call}: model {_name(model)} is already being trained by "
                f"{turns.trainer_call} in another thread; train one model from one thread "
                "at a time"
            )
        if any(thread != me for thread in turns.readers):
            raise RuntimeError(
                f"{call}: model {_name(model)} is predicting or evaluating in another thread, "
                "which needs its layers in inference mode; train it when those calls are "
                "done, or train a copy"
            )
        if not turns.depth:
            turns.trainer, turns.trainer_call = me, call
        turns.depth += 1
    try:
        yield
    finally:
        with turns.lock:
            turns.depth -= 1
            if not turns.depth:
                turns.trainer, turns.trainer_call = None, ""
