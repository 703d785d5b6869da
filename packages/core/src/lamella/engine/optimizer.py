"""The optimizer protocol the training loop drives, and the adapter for torch.optim.

A Keras optimizer is built with hyperparameters only (``SGD(lr=0.1)``) and
meets its parameters at ``model.compile``, which calls :meth:`Optimizer.bind`.
Every lamella optimizer is a ``torch.optim.Optimizer``: after ``bind`` it holds one
parameter group of the trained weights, so ``torch.amp.GradScaler``,
``torch.optim.lr_scheduler`` and ``torch.compile`` drive it as they drive torch's own.
lamella-optimizers subclasses :class:`Optimizer` with Keras 1's update rules;
:class:`TorchOptimizer` lets any ``torch.optim`` optimizer train a model.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

Params = list[torch.nn.Parameter]


def hyperparameter(value: float) -> torch.Tensor:
    """A 0-d CPU tensor: ``K.get_value``/``K.set_value`` read and change it in place."""
    return torch.tensor(float(value), dtype=torch.float64)


@dataclass(frozen=True)
class GraphUpdate:
    """An optimizer's update in three parts, so that ``jit_compile`` can trace the middle
    one into the training step's graph (``engine/whole_step.py``).

    ``numbers()`` runs eagerly before each step and returns the 0-d tensors the rule
    reads (the decayed rate, the step count): new values each step, never a new graph.
    ``apply(params, grads, *numbers)`` is traced: clipping and the rule, in place, with
    tensor operations only.  ``count()`` runs eagerly after the step.
    """

    numbers: Callable[[], tuple[torch.Tensor, ...]]
    apply: Callable[..., None]
    count: Callable[[], None]


class Optimizer(torch.optim.Optimizer):
    """Base class of lamella optimizers: a ``torch.optim.Optimizer`` that gets its
    parameters late, at ``compile``.

    Subclasses implement :meth:`build` (create their state for ``self.params``)
    and :meth:`apply_updates` (one update from the gradients, after clipping),
    and list their state in :attr:`weights` in Keras's saved order.  Until
    :meth:`bind`, the one parameter group is empty.  Its ``'lr'`` is the very tensor
    :attr:`lr`, so ``K.set_value(optimizer.lr, x)``, Keras's LearningRateScheduler and
    ``torch.optim.lr_scheduler`` all change the same number.

    Every optimizer takes the two clipping arguments below, as Keras 1's did.

    Args:
        clipnorm: When the norm of all gradients together reaches this, every
            gradient is scaled down by the same factor so that it equals it
            (default None: no clipping by norm).
        clipvalue: Each gradient value is clipped to ``[-clipvalue, clipvalue]``,
            after ``clipnorm`` (default None: no clipping by value).
        **kwargs: Refused with a ``TypeError``: an optimizer takes only its
            hyperparameters and the two above.
    """

    def __init__(self, clipnorm: float | None = None, clipvalue: float | None = None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) "
                f"{', '.join(sorted(kwargs))}; optimizers accept only their "
                "hyperparameters, clipnorm and clipvalue"
            )
        super().__init__([{"params": []}], {})
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.params: Params = []
        self.iterations = hyperparameter(0)

    # -- lifecycle used by the training loop ----------------------------------------

    def bind(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Attach the parameters to train (done by ``model.compile``): one parameter
        group, fresh state."""
        self.params = list(params)
        self.param_groups = []
        self.state = defaultdict(dict)
        group: dict[str, Any] = {"params": self.params}
        if "_lr" in self.__dict__:
            group["lr"] = self._lr
        self.add_param_group(group)
        self.build()

    def build(self) -> None:
        """Create per-parameter state; the base class has none."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (``set_to_none=False``: zero them in place)."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """One update from the parameters' gradients (``closure``, as in torch.optim,
        recomputes the loss first and is returned)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for p in self.params if p.grad is not None]
        if params:
            grads = [p.grad for p in params]
            self.clip_gradients(grads)
            self.apply_updates(params, grads)
        return loss

    def apply_updates(self, params: Params, grads: list[torch.Tensor]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement apply_updates")

    def compile_step(self, options: dict[str, Any]) -> None:
        """Run the update through ``torch.compile`` (``compile(jit_compile=True)``)."""
        self.apply_updates = torch.compile(self.apply_updates, **options)  # type: ignore[method-assign]

    def graph_update(self) -> GraphUpdate | None:
        """The update as ``jit_compile`` can trace it into the training step, or None
        (the default): the step then hands the gradients back and calls :meth:`step`."""
        return None

    def clip_gradients(self, grads: list[torch.Tensor]) -> None:
        """Keras 1 clipping: by the global norm over all gradients, then by value."""
        if self.clipnorm is not None and self.clipnorm > 0:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            scale = torch.where(norm >= self.clipnorm, self.clipnorm / norm, 1.0)
            torch._foreach_mul_(grads, scale.to(grads[0].dtype))
        if self.clipvalue is not None and self.clipvalue > 0:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)

    # -- learning rate ------------------------------------------------------------

    @property
    def lr(self) -> torch.Tensor:
        """The learning rate as a tensor (``K.set_value(opt.lr, 0.01)`` changes it)."""
        return self._lr

    @lr.setter
    def lr(self, value: float | torch.Tensor) -> None:
        if isinstance(value, torch.Tensor):
            self._lr = value
        elif hasattr(self, "_lr"):
            self._lr.fill_(float(value))
        else:
            self._lr = hyperparameter(value)

    # -- state and configuration -------------------------------------------------

    @property
    def weights(self) -> list[torch.Tensor]:
        """The optimizer's state in Keras's saved order (``iterations`` first where saved)."""
        return []

    def get_weights(self) -> list[np.ndarray]:
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        own = self.weights
        if len(own) != len(weights):
            raise ValueError(
                f"{type(self).__name__}.set_weights: expected {len(own)} arrays "
                f"(the optimizer state for {len(self.params)} parameters), got {len(weights)}"
            )
        with torch.no_grad():
            for target, value in zip(own, weights, strict=True):
                value = np.asarray(value)
                if tuple(target.shape) != value.shape:
                    raise ValueError(
                        f"{type(self).__name__}.set_weights: an array of shape "
                        f"{value.shape} cannot replace state of shape {tuple(target.shape)}"
                    )
                target.copy_(torch.as_tensor(value, dtype=target.dtype))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.clipnorm is not None:
            config["clipnorm"] = self.clipnorm
        if self.clipvalue is not None:
            config["clipvalue"] = self.clipvalue
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        return cls(**config)


_UNSAVABLE = object()


def _plain(value: Any) -> Any:
    """A hyperparameter as JSON can hold it (tuples such as Adam's betas become lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) for v in value):
        return list(value)
    return _UNSAVABLE


class TorchOptimizer(Optimizer):
    """Drives a ``torch.optim`` optimizer, given as a class (built at bind) or an instance.

    ``model.compile(optimizer=torch.optim.AdamW)`` makes one; ``K.set_value`` on its
    ``lr`` reaches the torch optimizer at the next step, so the learning-rate
    callbacks work with it.

    Args:
        optimizer: A ``torch.optim.Optimizer`` class, built over the model's
            trainable weights at ``compile``; or an instance, which must already
            hold all of them.
        clipnorm: When the norm of all gradients together reaches this, every
            gradient is scaled down by the same factor so that it equals it
            (default None: no clipping by norm).
        clipvalue: Each gradient value is clipped to ``[-clipvalue, clipvalue]``,
            after ``clipnorm`` (default None: no clipping by value).
        **kwargs: With a class, the keyword arguments it is built with
            (``lr=0.01``, ``weight_decay=1e-4``); refused with an instance.
    """

    def __init__(
        self,
        optimizer: type[torch.optim.Optimizer] | torch.optim.Optimizer,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(clipnorm=clipnorm, clipvalue=clipvalue)
        if isinstance(optimizer, torch.optim.Optimizer):
            if kwargs:
                raise TypeError(
                    "TorchOptimizer: keyword arguments apply only when a torch.optim "
                    f"class is given, not an instance; got {', '.join(sorted(kwargs))}"
                )
            self.torch_optimizer: torch.optim.Optimizer | None = optimizer
            self.torch_class: type[torch.optim.Optimizer] = type(optimizer)
            self.kwargs = {}
            self.lr = optimizer.param_groups[0].get("lr", 0.0)
        elif isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            self.torch_optimizer = None
            self.torch_class = optimizer
            self.kwargs = kwargs
        else:
            raise TypeError(
                "TorchOptimizer expects a torch.optim.Optimizer class or instance, "
                f"got {optimizer!r}"
            )
        self._lr_version = -1
        self._compiled_step: Any = None

    def bind(self, params: Iterable[torch.nn.Parameter]) -> None:
        self.params = list(params)
        if self.torch_optimizer is None:
            self.torch_optimizer = self.torch_class(self.params, **self.kwargs)
            self.lr = self.torch_optimizer.param_groups[0].get("lr", 0.0)
        else:
            given = {id(p) for g in self.torch_optimizer.param_groups for p in g["params"]}
            missing = [p for p in self.params if id(p) not in given]
            if missing:
                raise ValueError(
                    f"The {self.torch_class.__name__} instance passed to compile() does not "
                    f"hold {len(missing)} of the model's {len(self.params)} trainable weights; "
                    "build it from model.parameters(), or pass the class instead"
                )
        # the wrapped optimizer's groups and state are this one's: a GradScaler or an
        # lr_scheduler given the wrapper sees what the torch optimizer steps
        self.param_groups = self.torch_optimizer.param_groups
        self.state = self.torch_optimizer.state
        self._lr_version = self._lr._version

    @property
    def lr(self) -> torch.Tensor:
        """The first group's learning rate as a tensor.  ``K.set_value`` on it reaches
        every group at the next step; an ``lr_scheduler`` that set the groups' rate
        shows here."""
        if self.torch_optimizer is not None and self._lr._version == self._lr_version:
            rate = float(self.torch_optimizer.param_groups[0].get("lr", 0.0))
            if rate != float(self._lr):
                self._lr.fill_(rate)
                self._lr_version = self._lr._version
        return self._lr

    @lr.setter
    def lr(self, value: float | torch.Tensor) -> None:
        Optimizer.lr.fset(self, value)  # type: ignore[attr-defined]

    def zero_grad(self, set_to_none: bool = True) -> None:
        assert self.torch_optimizer is not None
        self.torch_optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        assert self.torch_optimizer is not None, "compile() the model before training"
        if self.clipnorm or self.clipvalue:
            grads = [p.grad for p in self.params if p.grad is not None]
            if grads:
                with torch.no_grad():
                    self.clip_gradients(grads)
        if self._lr._version != self._lr_version:  # K.set_value changed it in place
            for group in self.torch_optimizer.param_groups:
                group["lr"] = float(self._lr)
            self._lr_version = self._lr._version
        loss = (self._compiled_step or self.torch_optimizer.step)(closure)
        self._steps += 1
        return loss

    def compile_step(self, options: dict[str, Any]) -> None:
        """The torch optimizer's own step through ``torch.compile``, as torch documents
        for its optimizers."""
        assert self.torch_optimizer is not None
        _quiet_profiler_notice()
        self._compiled_step = torch.compile(self.torch_optimizer.step, **options)

    @property  # type: ignore[override]
    def iterations(self) -> torch.Tensor:
        """Steps taken, as Keras's saved tensor; counted in Python to keep steps cheap."""
        self._iterations.fill_(self._steps)
        return self._iterations

    @iterations.setter
    def iterations(self, value: torch.Tensor) -> None:
        self._iterations = value
        self._steps = int(value)

    def set_weights(self, weights: list[np.ndarray]) -> None:
        super().set_weights(weights)
        self._steps = int(self._iterations)

    @property
    def weights(self) -> list[torch.Tensor]:
        """``iterations``, then each parameter's state tensors (by key) in parameter order."""
        if self.torch_optimizer is None:
            return []
        state = self.torch_optimizer.state
        found: list[torch.Tensor] = [self.iterations]
        for p in self.params:
            for _, value in sorted(state.get(p, {}).items()):
                if isinstance(value, torch.Tensor):
                    found.append(value)
        return found

    def get_config(self) -> dict[str, Any]:
        defaults = dict(self.torch_optimizer.defaults) if self.torch_optimizer else {}
        defaults.update(self.kwargs)
        return {
            "torch_class": self.torch_class.__name__,
            **{k: _plain(v) for k, v in defaults.items() if _plain(v) is not _UNSAVABLE},
            **super().get_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TorchOptimizer:
        config = dict(config)
        name = config.pop("torch_class")
        torch_class = getattr(torch.optim, name, None)
        if not (isinstance(torch_class, type) and issubclass(torch_class, torch.optim.Optimizer)):
            raise ValueError(f"{name!r} is not an optimizer class of torch.optim")
        return cls(torch_class, **config)


class _ProfilerNotice(logging.Filter):
    """Drops dynamo's notice that it leaves out the ``record_function`` in torch.optim's
    ``step`` (its profiler hook).  ``jit_compile=True`` compiles that step for the user, who
    asked for no profiling: the one line on stderr would only puzzle them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "Profiler record function %s will be ignored"
            and record.args == (torch.autograd.profiler.record_function,)
        )


@functools.cache
def _quiet_profiler_notice() -> None:
    logging.getLogger("torch._dynamo.variables.ctx_manager").addFilter(_ProfilerNotice())
