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

The step runs the first call eagerly: that call creates lazily made state, tells which
weights get gradients at all (those that get none are left alone, as eagerly), and
fixes the batch size the graph is compiled for.  Other batch sizes run eagerly, so an
epoch's short last batch never compiles a second graph.  A model the tracer cannot take
whole (a custom layer that leaves torch, say) trains through the per-part compiled step
instead, after one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.func import functional_call, grad_and_value

from lamella.engine.optimizer import GraphUpdate, Optimizer

Tensors = list[torch.Tensor]
Step = Callable[[Tensors, Tensors, list[Any]], torch.Tensor]


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
        constraints: Sequence[tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]],
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
        size = int(inputs[0].shape[0]) if inputs else 0
        if self.size is None:
            values = self.eager(inputs, targets, weights)
            self._first_step_done(size)
            return values
        if self.broken or size != self.size:
            return self.eager(inputs, targets, weights)
        numbers = self.update.numbers() if self.update is not None else ()
        try:
            with (
                torch.no_grad()
            ):  # an inference graph to AOTAutograd: grad_and_value differentiates
                grads, values = self.compiled(inputs, targets, weights, numbers)
        except torch._dynamo.exc.TorchDynamoException as error:
            return self._give_up(error, inputs, targets, weights)
        if self.update is not None:
            self.update.count()
        else:
            self._step_with(grads)
        return values

    def _first_step_done(self, size: int) -> None:
        """Learn from the eager first step which weights get gradients (the rest are
        not the graph's to update, as an eager step leaves them) and the batch size."""
        self.size = size
        model = self.objective.model
        names = {id(weight): f"model.{name}" for name, weight in model.named_parameters()}
        # in the optimizer's order, which its state follows
        self.trained = {
            names[id(weight)]: weight
            for weight in self.optimizer.params
            if weight.grad is not None and id(weight) in names
        }
        # the other weights and buffers (BatchNormalization's running statistics) go in
        # as inputs of the differentiated function: torch.func refuses to change tensors
        # it captured
        tensors = [*model.named_parameters(), *model.named_buffers()]
        held = {f"model.{name}": tensor for name, tensor in tensors}
        self.held = {name: tensor for name, tensor in held.items() if name not in self.trained}
        if not self.trained:  # no weight reaches the loss: nothing to compile
            self.broken = True
        self.update = self.optimizer.graph_update()
        if self.update is not None and len(self.trained) != len(self.optimizer.params):
            self.update = None  # the rule's state is per bound weight: let step() pick them

    def _traced(
        self, inputs: Tensors, targets: Tensors, weights: list[Any], numbers: tuple[Any, ...]
    ) -> tuple[Tensors, torch.Tensor]:
        gradients = grad_and_value(self._loss, has_aux=True)
        by_name, (_, values) = gradients(self.trained, self.held, inputs, targets, weights)
        grads = list(by_name.values())
        if self.update is None:
            return grads, values
        self.update.apply(list(self.trained.values()), grads, *numbers)
        for weight, constraint in self.constraints:
            weight.copy_(constraint(weight))
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
        if self.constraints:
            with torch.no_grad():
                for weight, constraint in self.constraints:
                    weight.copy_(constraint(weight))

    def _give_up(
        self, error: Exception, inputs: Tensors, targets: Tensors, weights: list[Any]
    ) -> torch.Tensor:
        self.broken = True
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        warnings.warn(
            "jit_compile: torch.compile cannot trace this model's training step as one graph "
            f"({reason}); it compiles the forward pass and loss only",
            stacklevel=4,
        )
        self.fallback()
        return self.eager(inputs, targets, weights)
