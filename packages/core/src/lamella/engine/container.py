"""A graph of layers from input tensors to output tensors, runnable as one layer.

The graph is read once, when the container is built, into a flat execution
plan: a list of steps that move tensors between numbered slots.  Running the
model walks that list, with no graph traversal and no symbolic work per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from lamella.engine.operation import GradientOperation
from lamella.engine.topology import (
    InputLayer,
    KerasTensor,
    Layer,
    LearningPhaseInput,
    Node,
    Shape,
    to_list,
    unpack_singleton,
)


@dataclass(frozen=True)
class Step:
    """Run ``layer`` on the tensors in ``inputs`` slots, store results in ``outputs``."""

    layer: Layer
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    many_inputs: bool
    many_outputs: bool


def _walk(outputs: list[KerasTensor]) -> tuple[dict[Node, int], list[Node]]:
    """Depth of every node reachable from ``outputs`` (outputs at 0), in discovery order."""
    depth: dict[Node, int] = {}
    order: list[Node] = []

    def visit(tensor: KerasTensor, level: int, path: frozenset[int]) -> None:
        node = tensor.layer.inbound_nodes[tensor.node_index]
        if id(node) in path:
            raise ValueError(f"The graph has a cycle through layer {tensor.layer.name}")
        if node not in depth:
            order.append(node)
        elif depth[node] >= level:
            return
        depth[node] = level
        for inbound in node.inbound_tensors:
            visit(inbound, level + 1, path | {id(node)})

    for tensor in outputs:
        visit(tensor, 0, frozenset())
    return depth, order


def _requiring_grad(value: torch.Tensor) -> torch.Tensor:
    """``value`` as a tensor that gradients can be taken by (a fresh leaf if it was none)."""
    if value.requires_grad or not value.is_floating_point():
        return value
    return value.detach().requires_grad_()


class Container(Layer):
    """Layers wired from ``inputs`` to ``outputs``; itself a layer (and an nn.Module)."""

    def __init__(self, input: Any = None, output: Any = None, name: str | None = None, **kw):
        inputs = kw.pop("inputs", input)
        outputs = kw.pop("outputs", output)
        super().__init__(name=name, **kw)
        self.inputs: list[KerasTensor] = []
        self.outputs: list[KerasTensor] = []
        self._plan: list[Step] = []
        self._nodes: list[Node] = []
        self._layers: list[Layer] = []
        self._grad_slots: frozenset[int] = frozenset()
        self._masked = self._full_path = self._autograd = False
        if inputs is not None and outputs is not None:
            self._set_graph(to_list(inputs), to_list(outputs))

    # -- building ---------------------------------------------------------------------

    def _set_graph(self, inputs: list[KerasTensor], outputs: list[KerasTensor]) -> None:
        for tensor in [*inputs, *outputs]:
            if not isinstance(tensor, KerasTensor):
                raise TypeError(
                    f"Model {self.name}: inputs and outputs must be symbolic tensors "
                    f"(from Input() and layer calls), got {type(tensor).__name__}"
                )
        for tensor in inputs:
            if not isinstance(tensor.layer, InputLayer):
                raise ValueError(
                    f"Model {self.name}: input {tensor.name} is not an Input(); the inputs "
                    "of a model must be tensors returned by Input()"
                )
        if len({id(t) for t in inputs}) != len(inputs):
            raise ValueError(
                f"Model {self.name}: an input appears more than once in "
                f"{[t.name for t in inputs]}; each input must be given once"
            )
        self.inputs, self.outputs = list(inputs), list(outputs)
        depth, discovered = _walk(self.outputs)
        nodes = sorted(discovered, key=lambda n: -depth[n])  # stable: ties keep discovery
        layers: list[Layer] = []
        for node in nodes:
            if all(node.outbound_layer is not known for known in layers):
                layers.append(node.outbound_layer)
        names = [layer.name for layer in layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Model {self.name}: layer names must be unique, but {duplicates} appear "
                "more than once"
            )
        for module_name in list(self._modules):
            del self._modules[module_name]
        for layer in layers:
            key = layer.name.replace(".", "_")
            # Keras allows any name: one a model attribute has ('output') gets a suffix.
            while hasattr(type(self), key) or key in vars(self) or key in self._modules:
                key += "_"
            self.add_module(key, layer)
        self._layers = layers
        self._nodes = nodes
        self._plan = self._make_plan(nodes)
        self._masked = any(t.masked for node in nodes for t in node.output_tensors)
        # Masks or gradients in the graph: run the full path, which handles both.
        self._full_path = self._masked or bool(self._grad_slots)
        self._autograd = any(layer.needs_autograd for layer in layers)
        self._has_activity = any(
            layer.activity_regularizer is not None or getattr(layer, "_has_activity", False)
            for layer in layers
        )
        self.built = True

    def _make_plan(self, nodes: list[Node]) -> list[Step]:
        slots: dict[int, int] = {id(t): i for i, t in enumerate(self.inputs)}
        plan: list[Step] = []
        for node in nodes:
            layer = node.outbound_layer
            if isinstance(layer, InputLayer):
                tensor = node.output_tensors[0]
                if id(tensor) in slots:
                    continue
                if not isinstance(layer, LearningPhaseInput):
                    raise ValueError(
                        f"Graph disconnected: model {self.name} needs a value for "
                        f"{tensor.layer.name}, which is not among its inputs "
                        f"{[t.layer.name for t in self.inputs]}"
                    )
            inputs = tuple(slots[id(t)] for t in node.inbound_tensors)
            outputs = []
            for tensor in node.output_tensors:
                slots[id(tensor)] = len(slots)
                outputs.append(slots[id(tensor)])
            plan.append(
                Step(
                    layer,
                    inputs,
                    tuple(outputs),
                    many_inputs=len(node.inbound_tensors) != 1,
                    many_outputs=len(node.output_tensors) > 1,
                )
            )
        self._slot_of = slots
        self._output_slots = tuple(slots[id(t)] for t in self.outputs)
        self._slot_count = len(slots)
        self._grad_slots = frozenset(
            slot
            for step in plan
            if isinstance(step.layer, GradientOperation)
            for slot in step.inputs[1:]
        )
        return plan

    # -- properties ---------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _sublayers(self) -> list[Layer]:
        return self._layers

    @property
    def needs_autograd(self) -> bool:
        return self._autograd

    @property
    def input(self) -> Any:
        """The input tensor, or the list of them (Keras 1's ``model.input``)."""
        return unpack_singleton(self.inputs)

    @property
    def output(self) -> Any:
        return unpack_singleton(self.outputs)

    @property
    def input_layers_node_indices(self) -> list[int]:
        return [t.node_index for t in self.inputs]

    @property
    def input_layers_tensor_indices(self) -> list[int]:
        return [t.tensor_index for t in self.inputs]

    @property
    def output_layers_node_indices(self) -> list[int]:
        return [t.node_index for t in self.outputs]

    @property
    def output_layers_tensor_indices(self) -> list[int]:
        return [t.tensor_index for t in self.outputs]

    @property
    def losses(self) -> list[Any]:  # type: ignore[override]
        """Every layer's extra losses for the calls this model makes, and its own."""
        return self._collect("get_losses_for", "losses")

    @losses.setter
    def losses(self, value: Any) -> None:
        Layer.losses.fset(self, value)

    @property
    def updates(self) -> list[Any]:  # type: ignore[override]
        """Every layer's ``(variable, new_value)`` updates for the calls this model makes."""
        return self._collect("get_updates_for", "updates")

    @updates.setter
    def updates(self, value: Any) -> None:
        Layer.updates.fset(self, value)

    def _collect(self, per_inputs: str, everything: str) -> list[Any]:
        found = [item for group in self._extra(f"_added_{everything}").values() for item in group]
        own = {id(node) for node in self._nodes}
        for layer in self._layers:
            if len(layer.inbound_nodes) == 1:
                found += getattr(layer, everything)
                continue
            for node in layer.inbound_nodes:
                if id(node) in own and node.inbound_tensors:
                    found += getattr(layer, per_inputs)(node.inbound_tensors)
            found += getattr(layer, per_inputs)(None)
        return found

    @property
    def input_layers(self) -> list[Layer]:
        return [t.layer for t in self.inputs]

    @property
    def output_layers(self) -> list[Layer]:
        return [t.layer for t in self.outputs]

    @property
    def input_names(self) -> list[str]:
        return [t.layer.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.layer.name for t in self.outputs]

    @property
    def internal_input_shapes(self) -> list[Shape]:
        return [t.shape for t in self.inputs]

    @property
    def internal_output_shapes(self) -> list[Shape]:
        return [t.shape for t in self.outputs]

    @property
    def input_shape(self) -> Any:
        return unpack_singleton(self.internal_input_shapes)

    @property
    def output_shape(self) -> Any:
        return unpack_singleton(self.internal_output_shapes)

    @property
    def uses_learning_phase(self) -> bool:  # type: ignore[override]
        return any(layer.uses_learning_phase for layer in self._layers)

    @uses_learning_phase.setter
    def uses_learning_phase(self, value: bool) -> None:
        pass  # derived from the layers

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(
                    f"Model {self.name} has {len(self._layers)} layers; index {index} is out "
                    "of range"
                )
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"Model {self.name} has no layer named {name!r}; its layers are "
            f"{[layer.name for layer in self._layers]}"
        )

    @property
    def stateful(self) -> bool:  # type: ignore[override]
        return any(getattr(layer, "stateful", False) for layer in self._layers)

    @stateful.setter
    def stateful(self, value: bool) -> None:
        pass  # derived from the layers

    def reset_states(self) -> None:
        """Zero the states of every stateful layer (recurrent layers with stateful=True)."""
        for layer in self._layers:
            if getattr(layer, "stateful", False) and hasattr(layer, "reset_states"):
                layer.reset_states()

    def count_params(self) -> int:
        return sum(int(w.numel()) for w in self.weights)

    def _weight_layers(self) -> list[Layer]:
        """The layers whose weights get/set_weights list, in Keras's order."""
        return self._layers

    def get_weights(self) -> list[Any]:
        return [w for layer in self._weight_layers() for w in layer.get_weights()]

    def set_weights(self, weights: list[Any]) -> None:
        layers = self._weight_layers()
        expected = sum(len(layer.weights) for layer in layers)
        if len(weights) != expected:
            raise ValueError(
                f"Model {self.name} has {expected} weight arrays but set_weights got {len(weights)}"
            )
        position = 0
        for layer in layers:
            count = len(layer.weights)
            layer.set_weights(weights[position : position + count])
            position += count

    # -- configuration ----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:  # type: ignore[override]
        from lamella.engine.serialization import container_config

        return container_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Container:
        from lamella.engine.serialization import container_from_config

        return container_from_config(cls, config, custom_objects)

    # -- running ------------------------------------------------------------------------

    def build(self, input_shape: Any) -> None:
        """A container is built from its graph; nothing to do."""

    def get_output_shape_for(self, input_shape: Any) -> Any:
        """The output shapes for inputs of ``input_shape``, found layer by layer."""
        shapes = (
            [tuple(s) for s in input_shape]
            if isinstance(input_shape, list)
            else [tuple(input_shape)]
        )
        own = self.internal_input_shapes
        for got, expected in zip(shapes, own, strict=False):
            if len(got) != len(expected) or any(
                e is not None and g is not None and e != g
                for e, g in zip(expected[1:], got[1:], strict=False)
            ):
                raise ValueError(f"Model {self.name} expects inputs of shape {own}, got {shapes}")
        if shapes == [tuple(s) for s in own]:
            return unpack_singleton(self.internal_output_shapes)
        known: list[Any] = [None] * self._slot_count
        known[: len(shapes)] = shapes
        for step in self._plan:
            if isinstance(step.layer, InputLayer):
                result = step.layer.batch_input_shape
            else:
                x = [known[i] for i in step.inputs] if step.many_inputs else known[step.inputs[0]]
                result = step.layer.get_output_shape_for(x)
            results = result if step.many_outputs else [result]
            for index, shape in zip(step.outputs, results, strict=True):
                known[index] = tuple(shape)
        return unpack_singleton([known[i] for i in self._output_slots])

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """None per output: a model's outputs carry no mask out of it (see ``output_masked``)."""
        return unpack_singleton([None] * len(self.outputs))

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return False

    def call(self, x: Any, mask: Any = None) -> Any:
        values = to_list(x)
        if len(values) != len(self.inputs):
            raise ValueError(
                f"Model {self.name} expects {len(self.inputs)} input(s), got {len(values)}"
            )
        if self._full_path:
            return unpack_singleton(self.run_masked(values)[0])
        return unpack_singleton(self.run(values))

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Outputs for real input tensors; the fast path, with no masks anywhere."""
        slots: list[Any] = [None] * self._slot_count
        slots[: len(inputs)] = inputs
        collect = self._has_activity
        if collect:
            self._activity_penalties: list[torch.Tensor] = []
        for step in self._plan:
            x = [slots[i] for i in step.inputs] if step.many_inputs else slots[step.inputs[0]]
            y = step.layer.call(x)
            if step.many_outputs:
                for index, value in zip(step.outputs, y, strict=True):
                    slots[index] = value
            else:
                slots[step.outputs[0]] = y
            if collect and step.layer.activity_regularizer is not None:
                for value in to_list(y):
                    self._activity_penalties.append(step.layer.activity_regularizer(value))
        return [slots[i] for i in self._output_slots]

    def run_masked(
        self, inputs: list[torch.Tensor], keep: list[Any] | None = None
    ) -> tuple[list[Any], list[Any]]:
        """Outputs and their masks, for graphs where a mask can flow or gradients are taken.

        The values that a ``K.gradients`` in the graph differentiates by are made to
        require grad as they appear; ``keep``, a list, receives every slot's value.
        """
        slots: list[Any] = [None] * self._slot_count if keep is None else keep
        slots[:] = [None] * self._slot_count
        masks: list[Any] = [None] * self._slot_count
        slots[: len(inputs)] = inputs
        grad_slots = self._grad_slots
        for index in grad_slots.intersection(range(len(inputs))):
            slots[index] = _requiring_grad(slots[index])
        collect = self._has_activity
        if collect:
            self._activity_penalties = []
        for step in self._plan:
            layer = step.layer
            if step.many_inputs:
                x = [slots[i] for i in step.inputs]
                m = [masks[i] for i in step.inputs]
                if all(v is None for v in m):
                    m = None
            else:
                x, m = slots[step.inputs[0]], masks[step.inputs[0]]
            y = layer.call(x, m) if m is not None and layer._call_takes_mask() else layer.call(x)
            out_mask = layer.compute_mask(x, m)
            if step.many_outputs:
                out_masks = out_mask if isinstance(out_mask, list) else [out_mask] * len(y)
                for index, value, value_mask in zip(step.outputs, y, out_masks, strict=True):
                    slots[index], masks[index] = value, value_mask
            else:
                slots[step.outputs[0]], masks[step.outputs[0]] = y, out_mask
            if grad_slots:
                for index in grad_slots.intersection(step.outputs):
                    slots[index] = _requiring_grad(slots[index])
            if collect and layer.activity_regularizer is not None:
                for value in to_list(y):
                    self._activity_penalties.append(layer.activity_regularizer(value))
        return [slots[i] for i in self._output_slots], [masks[i] for i in self._output_slots]

    def activity_penalties(self) -> list[torch.Tensor]:
        """Activity penalties of the last forward pass, nested models' included."""
        found = list(getattr(self, "_activity_penalties", [])) if self._has_activity else []
        for layer in self._layers:
            if isinstance(layer, Container):
                found.extend(layer.activity_penalties())
        return found
