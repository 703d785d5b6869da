"""What the seven Keras 1 optimizers share: hyperparameters, per-parameter state, decay.

Each optimizer only states its update rule; this base turns Keras 1's conventions
(tensor-backed hyperparameters, ``lr / (1 + decay * iterations)``, which state is
saved and in what order) into one implementation, so that the rules cannot drift
apart on them.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from lamella.engine.optimizer import GraphUpdate, Optimizer, Params, hyperparameter
from lamella.utils.arguments import check_number

Tensors = list[torch.Tensor]
Slots = dict[str, Tensors]  # one list per slot name, aligned with the parameters stepped


class Hyperparameter:
    """A hyperparameter held in a 0-d tensor, like Keras's backend variables.

    ``K.set_value`` writes the tensor in place, and assigning a number fills it in
    place too, so a reference held elsewhere (a callback's) stays live.  The rules
    read it once per step, so a change applies from the next batch.
    """

    def __init__(self, low: float = 0.0, high: float | None = None) -> None:
        self.low = low
        self.high = high
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(
                f"{type(obj).__name__} has no hyperparameter {self.name!r}"
            ) from None

    def __set__(self, obj: object, value: float | torch.Tensor) -> None:
        if isinstance(value, torch.Tensor):
            obj.__dict__[self.name] = value
            return
        number = check_number(obj, self.name, value, self.low, self.high)
        current = obj.__dict__.get(self.name)
        if current is None:
            obj.__dict__[self.name] = hyperparameter(number)
        else:
            current.fill_(number)


class PlainHyperparameter(Hyperparameter):
    """A hyperparameter Keras 1 keeps as a Python float (``epsilon``): checked, never a tensor."""

    def __set__(self, obj: object, value: float) -> None:
        obj.__dict__[self.name] = check_number(obj, self.name, value, self.low, self.high)


class KerasOptimizer(Optimizer):
    """Base of the Keras 1 optimizers.

    A subclass names its state (``slot_names``, one tensor per parameter each, in
    saved order), its config keys, whether ``iterations`` heads its saved weights,
    and implements :meth:`update`.  Learning-rate decay follows Keras 1: it applies
    only when the optimizer was built with ``decay > 0``, with the iteration count
    from before the step, and such optimizers then count iterations; Adam-style
    rules need the count for bias correction and set ``counts_always``.
    """

    slot_names: tuple[str, ...] = ()
    config_keys: tuple[str, ...] = ()
    saves_iterations = False
    counts_always = False
    compiles_update = True
    _compiled_update: Any = None
    _step_numbers: tuple[torch.Tensor, torch.Tensor] | None = None
    _frozen: dict[str, float] | None = None  # the hyperparameters' values for a traced step

    decay = Hyperparameter()  # set by use_decay: Nadam has none
    epsilon = PlainHyperparameter()  # SGD has none

    def __init__(
        self,
        lr: float,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(clipnorm=clipnorm, clipvalue=clipvalue, **kwargs)
        for name, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue)):
            if value is not None:
                check_number(self, name, value, 0.0)
        self.lr = check_number(self, "lr", lr, 0.0)
        self.initial_decay = 0.0
        self._slots: Slots = {name: [] for name in self.slot_names}
        self._index: dict[int, int] = {}

    def use_decay(self, decay: float) -> None:
        """Give this optimizer Keras 1's learning-rate decay (all but Nadam have it)."""
        self.decay = decay
        self.initial_decay = float(self.decay)

    def build(self) -> None:
        """Zero state for every parameter, on the parameter's device and in its dtype.

        torch.optim's ``state`` holds the same tensors by parameter, and the group the
        iteration count, so ``state_dict()`` saves what Keras saves.
        """
        self._slots = {
            name: [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
            for name in self.slot_names
        }
        self._index = {id(p): i for i, p in enumerate(self.params)}
        self._step_numbers = None  # made on the parameters' device at the first step
        self._link_state()

    def _link_state(self) -> None:
        for i, p in enumerate(self.params):
            self.state[p] = {name: self._slots[name][i] for name in self.slot_names}
        self.param_groups[0]["iterations"] = self.iterations

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch.optim's loader, then the loaded values copied into this optimizer's own
        tensors (``lr``, ``iterations``, the slots), which other objects hold."""
        super().load_state_dict(state_dict)
        group = self.param_groups[0]
        with torch.no_grad():
            self._lr.fill_(float(group["lr"]))
            self.iterations.fill_(float(group.get("iterations", self.iterations)))
            for i, p in enumerate(self.params):
                loaded = self.state.get(p, {})
                for name in self.slot_names:
                    if name in loaded:
                        self._slots[name][i].copy_(loaded[name])
        group["lr"] = self._lr
        self._link_state()

    def apply_updates(self, params: Params, grads: Tensors) -> None:
        lr, t = self._rate_and_step()
        if self._compiled_update is None:
            self.update(params, grads, self._slots_of(params), lr, t)
        else:  # the step's numbers as tensors: a new value is not a new graph
            self._compiled_update(params, grads, self._slots_of(params), *self._numbers())
        self._count()

    def compile_step(self, options: dict[str, Any]) -> None:
        """Run :meth:`update` through ``torch.compile`` (``compile(jit_compile=True)``):
        the rule's element-wise passes over every parameter become one fused loop.

        The learning rate and step count change from step to step, so the compiled rule
        gets them as 0-d tensors on the parameters' device, never as Python numbers,
        which would compile a new graph for each value.  Rules whose other numbers
        change every step (Nadam's momentum schedule) set ``compiles_update = False``
        and stay eager.
        """
        if not self.compiles_update or not self.params:
            return
        self._compiled_update = torch.compile(self.update, **options)

    def graph_update(self) -> GraphUpdate | None:
        """Clipping and the rule, traced into ``jit_compile``'s training step; the same
        tensors for the rate and step count as :meth:`compile_step`'s."""
        if not self.compiles_update or not self.params:
            return None
        return GraphUpdate(self._numbers, self._clipped_update, self._count)

    def _clipped_update(self, params: Params, grads: Tensors, lr: Any, t: Any) -> None:
        self.clip_gradients(grads)
        self.update(params, grads, self._slots_of(params), lr, t)

    def _rate_and_step(self) -> tuple[float, float]:
        """The step's learning rate, decayed as Keras 1 decays it with the count from
        before the step, and the step's number counted from 1."""
        iterations = float(self.iterations)
        lr = float(self.lr)
        if self.initial_decay > 0:
            lr /= 1.0 + float(self.decay) * iterations
        return lr, iterations + 1

    def _numbers(self) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_rate_and_step` in two 0-d tensors on the parameters' device, made
        once and filled in place each step."""
        if self._step_numbers is None:
            first = self.params[0]
            self._step_numbers = tuple(
                torch.zeros((), dtype=first.dtype, device=first.device) for _ in range(2)
            )
        rate, step = self._step_numbers
        lr, t = self._rate_and_step()
        rate.fill_(lr)
        step.fill_(t)
        held = vars(self)  # where Hyperparameter keeps the values set (Nadam sets no decay)
        self._frozen = {name: float(held[name]) for name in self._hyperparameters() if name in held}
        return rate, step

    def _count(self) -> None:
        self._frozen = None
        if self.counts_always or self.initial_decay > 0:
            self.iterations.add_(1)

    @classmethod
    @functools.cache
    def _hyperparameters(cls) -> tuple[str, ...]:
        """The names of this class's hyperparameters (its Hyperparameter descriptors)."""
        return tuple(
            name
            for klass in cls.__mro__
            for name, value in vars(klass).items()
            if isinstance(value, Hyperparameter)
        )

    def value_of(self, name: str) -> float:
        """A hyperparameter as a Python number, for a rule's arithmetic.  In a compiled
        update it is the value read before the step (``_numbers``): reading a tensor's
        value would break the graph, while a number is a constant that torch.compile
        guards, compiling again only if ``K.set_value`` changes it."""
        if self._frozen is not None:
            return self._frozen[name]
        return float(getattr(self, name))

    def update(self, params: Params, grads: Tensors, state: Slots, lr: float, t: float) -> None:
        """Apply the rule in place.

        ``lr`` is already decayed; ``t`` is the step being taken counted from 1
        (``iterations + 1``), the exponent of Keras 1's bias corrections.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update")

    def _slots_of(self, params: Params) -> Slots:
        """The state of ``params``: all of it unless some parameters got no gradient."""
        if len(params) == len(self.params):
            return self._slots
        rows = [self._index[id(p)] for p in params]
        return {name: [tensors[i] for i in rows] for name, tensors in self._slots.items()}

    @property
    def weights(self) -> Tensors:
        """``[iterations]`` where Keras saves it, then each slot for every parameter."""
        head = [self.iterations] if self.saves_iterations else []
        return head + [t for name in self.slot_names for t in self._slots[name]]

    def get_config(self) -> dict[str, Any]:
        """Keras's keys, with the live values of the hyperparameters as Python floats."""
        own = {}
        for key in self.config_keys:
            value = getattr(self, key)
            own[key] = value if isinstance(value, bool) else float(value)
        return {**super().get_config(), **own}


def ema_of_square(averages: Tensors, grads: Tensors, rho: float) -> None:
    """``a = rho * a + (1 - rho) * g**2`` in place, the second moment most rules keep."""
    torch._foreach_mul_(averages, rho)
    torch._foreach_addcmul_(averages, grads, grads, value=1.0 - rho)


def add_scaled_(targets: Tensors, sources: Tensors, factor: float | torch.Tensor) -> None:
    """``t += factor * s`` in place; ``factor`` a number, or a 0-d tensor when compiled."""
    if isinstance(factor, torch.Tensor):
        torch._foreach_add_(targets, torch._foreach_mul(sources, factor))
    else:
        torch._foreach_add_(targets, sources, alpha=factor)


def addcdiv_scaled_(
    targets: Tensors, numerators: Tensors, denominators: Tensors, factor: float | torch.Tensor
) -> None:
    """``t += factor * n / d`` in place; ``factor`` a number, or a 0-d tensor when compiled."""
    if isinstance(factor, torch.Tensor):
        ratios = torch._foreach_div(numerators, denominators)
        torch._foreach_mul_(ratios, factor)
        torch._foreach_add_(targets, ratios)
    else:
        torch._foreach_addcdiv_(targets, numerators, denominators, value=factor)


def sqrt_plus(tensors: Tensors, epsilon: float) -> Tensors:
    """New tensors ``sqrt(t) + epsilon``: Keras 1 puts epsilon outside the root."""
    roots = torch._foreach_sqrt(tensors)
    torch._foreach_add_(roots, epsilon)
    return roots
