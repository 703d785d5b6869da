"""Which weights a compiled model trains: fixed at ``compile``, as in Keras 1.

Keras 1 collects a model's trainable weights when it is compiled; changing a
``trainable`` flag afterwards only matters at the next ``compile``.  That is what
the GAN recipe relies on: compile the discriminator, freeze it, then compile the
combined model, and each trains its own weights.

In lamella the ``trainable`` setter also switches the weights' ``requires_grad``
at once (a torch loop around a lamella model sees the change), so two compiled
models sharing weights disagree on those flags.  Each compiled model records its
flags (:class:`GradFlags`) and puts them back before its own step.  A global tick,
advanced whenever anyone changes flags, tells whether that is needed: a model
that trains alone pays one comparison per step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class _Clock:
    """Advanced whenever ``requires_grad`` flags of layer weights were changed."""

    __slots__ = ("ticks",)

    def __init__(self) -> None:
        self.ticks = 0


CLOCK = _Clock()


def flags_changed() -> None:
    """Tell compiled models that some weights' ``requires_grad`` changed."""
    CLOCK.ticks += 1


class GradFlags:
    """The ``requires_grad`` of each of a model's parameters, as ``compile`` fixed it."""

    def __init__(self, parameters: Iterable[torch.nn.Parameter], trained: Iterable[torch.Tensor]):
        chosen = {id(weight) for weight in trained}
        self.flags = [(p, id(p) in chosen) for p in parameters]
        self.seen = -1  # the clock's ticks when they were last put in place; -1: never

    def restore(self) -> None:
        """Put the recorded flags back (only the ones that differ)."""
        changed = False
        for parameter, flag in self.flags:
            if parameter.requires_grad != flag:
                parameter.requires_grad_(flag)
                changed = True
        if changed:
            flags_changed()
        self.seen = CLOCK.ticks
