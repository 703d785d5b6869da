"""``jit_compile``'s training step as one graph: forward pass, loss, backward pass, update.

Compiling the forward pass and loss alone leaves the rest of each step to run eagerly
around the compiled code: autograd's engine walks the backward graph that AOTAutograd
made, gradients are written into ``.grad``, and the optimizer makes its own passes over
the weights.  On a small network those per-step costs are as large as what fusing saves.

Here ``torch.func.grad_and_value`` differentiates the model's objective inside the
function that ``torch.compile`` traces, so the backward pass is ordinary operations in
the same graph as the forward pass.  An optimizer that offers a traceable update
(``Optimizer.graph_update``: every Keras rule but Nadam's) is traced into it too, with
the weight constraints after it; any other optimizer (torch.optim's, which break the
graph on purpose) gets the gradients in ``.grad`` and takes its own step, compiled.

The step runs the first call eagerly: that call creates lazily made state, fixes the
batch size the graph is compiled for, and is first differentiated both by autograd and
by torch.func, to learn which weights get gradients at all (those that get none are left
alone, as eagerly) and that torch.func reaches every one.  Other batch sizes run eagerly,
so an epoch's short last batch never compiles a second graph.  A model the tracer cannot
take whole (a custom layer that leaves torch, or reads a weight other than as its
attribute) trains through the per-part compiled step instead, after one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad_and_value

from lamella.engine.acceleration import batch_size
from lamella.engine.optimizer import GraphUpdate, Optimizer

Tensors = list[torch.Tensor]
Step = Callable[[Tensors, Tensors, list[Any]], torch.Tensor]
Constraints = Sequence[tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]]


def apply_constraints(constraints: Constraints) -> None:
    """Each weight constraint on its weight, in place, after an update (eager or traced)."""
    if not constraints:
        return
    with torch.no_grad():
        for weight, constraint in constraints:
            weight.copy_(constraint(weight))


class _Objective(torch.nn.Module):
    """The model's objective (forward pass and loss) as a module's forward, so that
    ``functional_call`` runs it with the weights it is given."""

    def __init__(self, model: Any, autocast: Callable[[], Any]):
        super().__init__()
        self.model = model
        self.autocast = autocast

    def forward(self, inputs: Tensors, targets: Tensors, weights: list[Any]) -> Any:
        with self.autocast():
            return self.model._objective(inputs, targets, weights)


class WholeStep:
    """A model's training step compiled whole, for the batch size of its second call.

    ``eager`` is the step it replaces (and runs for the first call and other sizes);
    ``fallback()`` is called once if the graph cannot be built.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Optimizer,
        constraints: Constraints,
        autocast: Callable[[], Any],
        options: dict[str, Any],
        eager: Step,
        fallback: Callable[[], None],
    ):
        self.objective = _Objective(model, autocast)
        self.optimizer = optimizer
        self.constraints = list(constraints)
        self.eager, self.fallback = eager, fallback
        # fullgraph: a graph break inside grad_and_value cannot be stitched; raising lets
        # the step fall back instead
        self.compiled = torch.compile(
            self._traced, **{"dynamic": False, **options, "fullgraph": True}
        )
        self.size: int | None = None
        self.trained: dict[str, torch.nn.Parameter] = {}
        self.held: dict[str, torch.Tensor] = {}
        self.update: GraphUpdate | None = None
        self.broken = False

    def __call__(self, inputs: Tensors, targets: Tensors, weights: list[Any]) -> torch.Tensor:
        size = batch_size(inputs)
        if self.size is None:
            self.size = size
            self._learn(inputs, targets, weights)
            return self.eager(inputs, targets, weights)
        if self.broken or size != self.size:
            return self.eager(inputs, targets, weights)
        numbers = self.update.numbers() if self.update is not None else ()
        try:
            # an inference graph to AOTAutograd: grad_and_value differentiates all the same
            with torch.no_grad():
                grads, values = self.compiled(inputs, targets, weights, numbers)
        except torch._dynamo.exc.TorchDynamoException as error:
            self._give_up(str(error))
            return self.eager(inputs, targets, weights)
        if self.update is not None:
            self.update.count()
        else:
            self._step_with(grads)
        return values

    def _learn(self, inputs: Tensors, targets: Tensors, weights: list[Any]) -> None:
        """From the first batch, before its eager step: which weights get gradients (the
        rest are not the graph's to update, as an eager step leaves them), and whether
        ``functional_call`` reaches them all.

        torch.func differentiates by the tensors ``functional_call`` puts in the modules'
        attributes; a weight that some code holds elsewhere (a custom layer reading
        ``self.trainable_weights[0]``) would get a zero gradient, silently.  So the batch's
        gradients are computed both ways, with the same random draws and the running
        statistics put back after each, and any difference keeps the step per part.
        """
        model = self.objective.model
        names = {id(weight): f"model.{name}" for name, weight in model.named_parameters()}
        # in the optimizer's order, which its state follows
        candidates = {
            names[id(weight)]: weight
            for weight in self.optimizer.params
            if weight.requires_grad and id(weight) in names
        }
        # the other weights and buffers (BatchNormalization's running statistics) go in
        # as inputs of the differentiated function: torch.func refuses to change tensors
        # it captured
        tensors = [*model.named_parameters(), *model.named_buffers()]
        held = {f"model.{name}": tensor for name, tensor in tensors}
        self.held = {name: tensor for name, tensor in held.items() if name not in candidates}
        expected, got = self._gradients_both_ways(candidates, inputs, targets, weights)
        self.trained = {
            name: weight for name, weight in candidates.items() if expected[name] is not None
        }
        if not self.trained:  # no weight reaches the loss: nothing to compile
            self.broken = True
            return
        missed = [name for name in self.trained if not _close(got[name], expected[name])]
        if missed:
            self._give_up(
                f"the gradient of {missed[0].removeprefix('model.')} differs when torch.func "
                "runs the model: some code reads that weight other than as its layer's "
                "attribute"
            )
            return
        self.update = self.optimizer.graph_update()
        if self.update is not None and len(self.trained) != len(self.optimizer.params):
            self.update = None  # the rule's state is per bound weight: let step() pick them

    def _gradients_both_ways(
        self,
        candidates: dict[str, torch.nn.Parameter],
        inputs: Tensors,
        targets: Tensors,
        weights: list[Any],
    ) -> tuple[dict[str, torch.Tensor | None], dict[str, torch.Tensor]]:
        """The gradients by autograd (None: no gradient) and by torch.func, eagerly."""
        buffers = {name: t for name, t in self.held.items() if not isinstance(t, nn.Parameter)}
        saved = {name: t.detach().clone() for name, t in buffers.items()}

        def put_back() -> None:
            with torch.no_grad():
                for name, tensor in buffers.items():
                    tensor.copy_(saved[name])

        cuda = sorted({w.device.index or 0 for w in candidates.values() if w.is_cuda})
        with torch.random.fork_rng(devices=cuda):
            draws = torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in cuda]
            with torch.enable_grad():
                total, _ = self.objective(inputs, targets, weights)
            if total.requires_grad:
                found = torch.autograd.grad(total, list(candidates.values()), allow_unused=True)
            else:  # no weight reaches the loss
                found = (None,) * len(candidates)
            put_back()
            torch.set_rng_state(draws[0])
            for device, state in zip(cuda, draws[1], strict=True):
                torch.cuda.set_rng_state(state, device)
            gradients = grad_and_value(self._loss, has_aux=True)
            got, _ = gradients(candidates, self.held, inputs, targets, weights)
            put_back()
        return dict(zip(candidates, found, strict=True)), got

    def _traced(
        self, inputs: Tensors, targets: Tensors, weights: list[Any], numbers: tuple[Any, ...]
    ) -> tuple[Tensors, torch.Tensor]:
        gradients = grad_and_value(self._loss, has_aux=True)
        by_name, (_, values) = gradients(self.trained, self.held, inputs, targets, weights)
        grads = list(by_name.values())
        if self.update is None:
            return grads, values
        self.update.apply(list(self.trained.values()), grads, *numbers)
        apply_constraints(self.constraints)
        return [], values

    def _loss(
        self,
        trained: dict[str, torch.Tensor],
        held: dict[str, torch.Tensor],
        inputs: Tensors,
        targets: Tensors,
        weights: list[Any],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective as a function of the trained weights (the first argument, which
        grad_and_value differentiates by) and of the buffers it may update in place."""
        tensors = {**trained, **held}
        total, values = functional_call(self.objective, tensors, (inputs, targets, weights))
        return total, values

    def _step_with(self, grads: Tensors) -> None:
        """The gradients into ``.grad``, then the optimizer's own step and the constraints."""
        for weight, grad in zip(self.trained.values(), grads, strict=True):
            weight.grad = grad
        self.optimizer.step()
        apply_constraints(self.constraints)

    def _give_up(self, reason: str) -> None:
        """Warn once and switch the model to the per-part compile."""
        self.broken = True
        reason = reason.strip().splitlines()[0] if reason.strip() else "unknown reason"
        warnings.warn(
            "jit_compile: torch.compile cannot trace this model's training step as one graph "
            f"({reason}); it compiles the forward pass and loss only",
            stacklevel=4,
        )
        self.fallback()


def _close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """Equal up to the rounding of a different order of the same operations."""
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    return bool(torch.allclose(got, expected, rtol=1e-3, atol=1e-6 + 1e-4 * scale))
