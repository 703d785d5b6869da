"""Stochastic gradient descent with Keras 1's momentum and Nesterov forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamella.optim.base import Hyperparameter, KerasOptimizer, Slots, Tensors, add_scaled_


class SGD(KerasOptimizer):
    """SGD with optional momentum, Nesterov momentum and learning-rate decay.

    The velocity holds the step itself (``v = momentum * v - lr * g``; ``p += v``),
    not torch.optim's gradient average, so it saves and restores as Keras's does.

    Args:
        lr: The learning rate, at least 0 (default 0.01).
        momentum: How much of the previous step each step keeps, at least 0
            (default 0.0: plain gradient descent).
        decay: The learning-rate decay: each update uses ``lr / (1 + decay *
            iterations)`` (default 0.0: a constant rate).
        nesterov: Whether to use Nesterov momentum, which takes the gradient
            step from the point the momentum leads to: ``p += momentum * v - lr *
            g`` (default False).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("moments",)
    config_keys = ("lr", "momentum", "decay", "nesterov")
    saves_iterations = True

    momentum = Hyperparameter()

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        decay: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        self.use_decay(decay)
        self.momentum = momentum
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(
                f"SGD: nesterov must be True or False, got {nesterov!r} ({type(nesterov).__name__})"
            )
        self.nesterov = bool(nesterov)

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        momentum = self.value_of("momentum")
        velocities = state["moments"]
        torch._foreach_mul_(velocities, momentum)
        add_scaled_(velocities, grads, -lr)
        if self.nesterov:
            torch._foreach_add_(params, velocities, alpha=momentum)
            add_scaled_(params, grads, -lr)
        else:
            torch._foreach_add_(params, velocities)
