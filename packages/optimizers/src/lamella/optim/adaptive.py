"""The per-coordinate rules: RMSprop, Adagrad and Adadelta (Keras 1 forms)."""

from __future__ import annotations

from typing import Any

import torch

from lamella.optim.base import (
    Hyperparameter,
    KerasOptimizer,
    Slots,
    Tensors,
    add_scaled_,
    addcdiv_scaled_,
    ema_of_square,
    sqrt_plus,
)


class _RunningAverage(KerasOptimizer):
    """RMSprop and Adadelta: both keep ``a = rho * a + (1 - rho) * g**2`` and share arguments."""

    config_keys = ("lr", "rho", "decay", "epsilon")

    rho = Hyperparameter(0.0, 1.0)

    def __init__(self, lr: float, rho: float, epsilon: float, decay: float, **kwargs: Any) -> None:
        super().__init__(lr=lr, **kwargs)
        self.use_decay(decay)
        self.rho = rho
        self.epsilon = epsilon


class RMSprop(_RunningAverage):
    """Divides the step by a running root mean square of the gradient.

    ``p -= lr * g / (sqrt(a) + epsilon)`` with ``a = rho * a + (1 - rho) * g**2``;
    the same numbers as ``torch.optim.RMSprop(alpha=rho)``.  Saves no iteration count.

    A good choice for recurrent networks; as Keras 1 advised, tune ``lr`` and
    leave the others at their defaults.

    Args:
        lr: The learning rate, at least 0 (default 0.001).
        rho: The decay rate of the running average of the squared gradient,
            in [0, 1) (default 0.9).
        epsilon: A small number added to the denominator, so that nothing is
            divided by zero (default 1e-8).
        decay: The learning-rate decay: each update uses ``lr / (1 + decay *
            iterations)`` (default 0.0: a constant rate).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("accumulators",)

    def __init__(
        self,
        lr: float = 0.001,
        rho: float = 0.9,
        epsilon: float = 1e-8,
        decay: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, rho, epsilon, decay, **kwargs)

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        averages = state["accumulators"]
        ema_of_square(averages, grads, self.value_of("rho"))
        addcdiv_scaled_(params, grads, sqrt_plus(averages, self.epsilon), -lr)


class Adagrad(KerasOptimizer):
    """Divides the step by the root of the summed squared gradients.

    ``p -= lr * g / (sqrt(a) + epsilon)`` with ``a += g**2``; the same numbers as
    ``torch.optim.Adagrad(lr_decay=decay)``.  Saves no iteration count.

    The sum only grows, so each coordinate's step shrinks with the gradients it
    has seen: frequent features learn slowly, rare ones fast.

    Args:
        lr: The learning rate, at least 0 (default 0.01).
        epsilon: A small number added to the denominator, so that nothing is
            divided by zero (default 1e-8).
        decay: The learning-rate decay: each update uses ``lr / (1 + decay *
            iterations)`` (default 0.0: a constant rate).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("accumulators",)
    config_keys = ("lr", "decay", "epsilon")

    def __init__(
        self, lr: float = 0.01, epsilon: float = 1e-8, decay: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        self.use_decay(decay)
        self.epsilon = epsilon

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        sums = state["accumulators"]
        torch._foreach_addcmul_(sums, grads, grads)
        addcdiv_scaled_(params, grads, sqrt_plus(sums, self.epsilon), -lr)


class Adadelta(_RunningAverage):
    """Scales the gradient by the ratio of running RMS of past steps and of gradients.

    ``u = g * sqrt(d + epsilon) / sqrt(a + epsilon)``; ``p -= lr * u``; epsilon is
    inside both roots here, as in ``torch.optim.Adadelta``.  Saves the gradient
    accumulators, then the step accumulators, and no iteration count.

    The ratio sets the step size, so ``lr`` is best left at 1.0.

    Args:
        lr: The learning rate, at least 0 (default 1.0).
        rho: The decay rate of both running averages, in [0, 1) (default 0.95).
        epsilon: A small number added to the denominator, so that nothing is
            divided by zero (default 1e-8).
        decay: The learning-rate decay: each update uses ``lr / (1 + decay *
            iterations)`` (default 0.0: a constant rate).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("accumulators", "delta_accumulators")

    def __init__(
        self,
        lr: float = 1.0,
        rho: float = 0.95,
        epsilon: float = 1e-8,
        decay: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, rho, epsilon, decay, **kwargs)

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        rho = self.value_of("rho")
        averages, deltas = state["accumulators"], state["delta_accumulators"]
        ema_of_square(averages, grads, rho)
        steps = torch._foreach_add(deltas, self.epsilon)
        torch._foreach_sqrt_(steps)
        scale = torch._foreach_add(averages, self.epsilon)
        torch._foreach_sqrt_(scale)
        torch._foreach_div_(steps, scale)
        torch._foreach_mul_(steps, grads)
        add_scaled_(params, steps, -lr)
        ema_of_square(deltas, steps, rho)
