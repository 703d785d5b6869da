"""Adam and its two Keras 1 relatives, Adamax and Nadam."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from lamella.optim.base import (
    Hyperparameter,
    KerasOptimizer,
    Slots,
    Tensors,
    addcdiv_scaled_,
    ema_of_square,
    sqrt_plus,
)
from lamella.utils.arguments import check_number


class _AdamFamily(KerasOptimizer):
    """The hyperparameters and saved state the three share: ``[iterations] + ms + second``."""

    config_keys = ("lr", "beta_1", "beta_2", "decay", "epsilon")
    saves_iterations = True
    counts_always = True

    beta_1 = Hyperparameter(0.0, 1.0)
    beta_2 = Hyperparameter(0.0, 1.0)

    def __init__(
        self,
        lr: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr=lr, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon


class Adam(_AdamFamily):
    """Adam as Keras 1 writes it: bias correction folded into the step size.

    ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``; ``p -= lr_t * m / (sqrt(v) + eps)``
    with ``t = iterations + 1``.  torch.optim.Adam bias-corrects ``v`` before adding
    epsilon, so the two agree only when ``epsilon = 0``.

    Args:
        lr: The learning rate, at least 0 (default 0.001).
        beta_1: The decay rate of the running mean of the gradient, in [0, 1)
            (default 0.9).
        beta_2: The decay rate of the running mean of the squared gradient,
            in [0, 1) (default 0.999).
        epsilon: A small number added to the denominator, so that nothing is
            divided by zero (default 1e-8).
        decay: The learning-rate decay: each update uses ``lr / (1 + decay *
            iterations)`` (default 0.0: a constant rate).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("ms", "vs")

    def __init__(
        self,
        lr: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, beta_1, beta_2, epsilon, **kwargs)
        self.use_decay(decay)

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        beta_1, beta_2 = self.value_of("beta_1"), self.value_of("beta_2")
        lr_t = lr * (1.0 - beta_2**t) ** 0.5 / (1.0 - beta_1**t)
        torch._foreach_lerp_(state["ms"], grads, 1.0 - beta_1)
        ema_of_square(state["vs"], grads, beta_2)
        addcdiv_scaled_(params, state["ms"], sqrt_plus(state["vs"], self.epsilon), -lr_t)


class Adamax(_AdamFamily):
    """Adam with the infinity norm: ``u = max(beta_2 * u, |g|)``; ``p -= lr_t * m / (u + eps)``.

    ``lr_t = lr / (1 - beta_1**t)``.  torch.optim.Adamax adds epsilon to ``|g|``
    inside the max instead, so the two agree only when ``epsilon = 0``.

    Args:
        lr: The learning rate, at least 0 (default 0.002).
        beta_1: The decay rate of the running mean of the gradient, in [0, 1)
            (default 0.9).
        beta_2: The decay rate of the infinity norm ``u``, in [0, 1) (default
            0.999).
        epsilon: A small number added to the denominator, so that nothing is
            divided by zero (default 1e-8).
        decay: The learning-rate decay: each update uses ``lr / (1 + decay *
            iterations)`` (default 0.0: a constant rate).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("ms", "us")

    def __init__(
        self,
        lr: float = 0.002,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, beta_1, beta_2, epsilon, **kwargs)
        self.use_decay(decay)

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        beta_1 = self.value_of("beta_1")
        lr_t = lr / (1.0 - beta_1**t)
        torch._foreach_lerp_(state["ms"], grads, 1.0 - beta_1)
        norms = state["us"]
        torch._foreach_mul_(norms, self.value_of("beta_2"))
        torch._foreach_maximum_(norms, torch._foreach_abs(grads))
        addcdiv_scaled_(params, state["ms"], torch._foreach_add(norms, self.epsilon), -lr_t)


class Nadam(_AdamFamily):
    """Adam with Nesterov momentum and Dozat's warming momentum schedule (no ``decay``).

    ``mu_t = beta_1 * (1 - 0.5 * 0.96**(t * schedule_decay))``; the running product
    of the ``mu_t`` (``m_schedule``) is not saved by Keras, so :meth:`set_weights`
    rebuilds it from ``iterations``.  Same numbers as ``torch.optim.NAdam``.

    Args:
        lr: The learning rate, at least 0 (default 0.002).
        beta_1: The momentum the schedule warms up to, in [0, 1) (default 0.9).
        beta_2: The decay rate of the running mean of the squared gradient,
            in [0, 1) (default 0.999).
        epsilon: A small number added to the denominator, so that nothing is
            divided by zero (default 1e-8).
        schedule_decay: How fast the momentum warms up, the factor of ``t`` in
            the schedule above, at least 0 (default 0.004).
        **kwargs: ``clipnorm`` and ``clipvalue``, the gradient clipping every
            optimizer takes (see ``lamella.optimizers.Optimizer``).
    """

    slot_names = ("ms", "vs")
    config_keys = ("lr", "beta_1", "beta_2", "epsilon", "schedule_decay")
    compiles_update = False  # its momentum schedule is a new number every step

    def __init__(
        self,
        lr: float = 0.002,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        schedule_decay: float = 0.004,
        **kwargs: Any,
    ) -> None:
        super().__init__(lr, beta_1, beta_2, epsilon, **kwargs)
        self.schedule_decay = check_number(self, "schedule_decay", schedule_decay, 0.0)
        self.m_schedule = 1.0

    def _momentum_cache(self, t: float) -> float:
        return self.value_of("beta_1") * (1.0 - 0.5 * 0.96 ** (t * self.schedule_decay))

    def update(self, params: Tensors, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        beta_1, beta_2 = self.value_of("beta_1"), self.value_of("beta_2")
        mu_t, mu_next = self._momentum_cache(t), self._momentum_cache(t + 1)
        self.m_schedule *= mu_t
        schedule_next = self.m_schedule * mu_next
        ms, vs = state["ms"], state["vs"]
        torch._foreach_lerp_(ms, grads, 1.0 - beta_1)
        ema_of_square(vs, grads, beta_2)
        denominators = torch._foreach_div(vs, 1.0 - beta_2**t)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, self.epsilon)
        torch._foreach_addcdiv_(
            params, grads, denominators, value=-lr * (1.0 - mu_t) / (1.0 - self.m_schedule)
        )
        torch._foreach_addcdiv_(
            params, ms, denominators, value=-lr * mu_next / (1.0 - schedule_next)
        )

    def set_weights(self, weights: list[np.ndarray]) -> None:
        super().set_weights(weights)
        self._rebuild_schedule()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._rebuild_schedule()

    def _rebuild_schedule(self) -> None:
        steps = int(self.iterations)
        self.m_schedule = math.prod(self._momentum_cache(t) for t in range(1, steps + 1))
