"""``Sequential``: a linear stack of layers, built on the same graph as ``Model``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lamella.backend.state import get_uid
from lamella.engine.container import Container
from lamella.engine.merge import Merge
from lamella.engine.serialization import layer_from_config, layer_to_config
from lamella.engine.topology import Input, KerasTensor, Layer, get_source_inputs
from lamella.engine.training import Model


class Sequential(Model):
    """A stack of layers; the first one states the input shape.

    ``Sequential([Dense(32, input_dim=784), Activation('relu')])`` or ``add()``
    one layer at a time.  A ``Merge`` of Sequential branches may come first.
    """

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None):
        super().__init__(name=name)
        self._stack: list[Layer] = []
        self._stack_outputs: list[KerasTensor] = []
        for layer in layers or []:
            self.add(layer)

    @property
    def model(self) -> Sequential:
        """Keras 1's inner functional model of a Sequential: here the Sequential itself."""
        return self

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    @property
    def flattened_layers(self) -> list[Layer]:
        """The layers in Keras 1's weight order: Merge branches' layers first."""
        flat: list[Layer] = []
        for layer in self._stack:
            if isinstance(layer, Merge):
                for branch in layer.branches:
                    inner = branch.flattened_layers if isinstance(branch, Sequential) else [branch]
                    flat.extend(x for x in inner if all(x is not f for f in flat))
            if all(layer is not f for f in flat):
                flat.append(layer)
        return flat

    def add(self, layer: Layer) -> None:
        """Append ``layer``, inferring its input shape from the layer before it."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a layer, got {type(layer).__name__} ({layer!r})"
            )
        if not self._stack:
            output = self._first_output(layer)
        else:
            previous = self._stack[-1]
            try:
                output = layer(self._stack_outputs[-1])
            except (ValueError, TypeError) as exc:
                raise type(exc)(
                    f"Cannot add layer {layer.name} ({type(layer).__name__}) after layer "
                    f"{previous.name} ({type(previous).__name__}, output shape "
                    f"{self._stack_outputs[-1].shape}): {exc}"
                ) from exc
        if not isinstance(output, KerasTensor):
            raise ValueError(
                f"Layer {layer.name} returns several tensors; a Sequential model needs layers "
                "with one output (use the functional Model for this one)"
            )
        self._stack.append(layer)
        self._stack_outputs.append(output)
        self._set_graph(get_source_inputs(output), [output])

    def _first_output(self, layer: Layer) -> KerasTensor:
        if layer.inbound_nodes:  # a Merge of branches, or a model with its own inputs
            return layer.get_output_at(len(layer.inbound_nodes) - 1)
        if isinstance(layer, Container) and layer.inputs:
            return layer(layer.inputs[0] if len(layer.inputs) == 1 else layer.inputs)
        if layer.batch_input_shape is None:
            raise ValueError(
                f"The first layer of a Sequential model must know its input shape: give "
                f"{type(layer).__name__} ({layer.name}) input_shape=, batch_input_shape= or "
                "input_dim="
            )
        prefix = f"{type(layer).__name__.lower()}_input"
        tensor = Input(
            batch_shape=layer.batch_input_shape,
            dtype=layer.input_dtype,
            name=f"{prefix}_{get_uid(prefix)}",
        )
        try:
            return layer(tensor)
        except (ValueError, TypeError) as exc:
            raise type(exc)(
                f"Cannot add layer {layer.name} ({type(layer).__name__}) as the first layer "
                f"(input shape {tensor.shape}): {exc}"
            ) from exc

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model to pop")
        layer = self._stack.pop()
        output = self._stack_outputs.pop()
        node = layer.inbound_nodes[output.node_index]
        layer.inbound_nodes.remove(node)
        for inbound in node.inbound_tensors:
            if node in inbound.layer.outbound_nodes:
                inbound.layer.outbound_nodes.remove(node)
        if self._stack:
            self._set_graph(get_source_inputs(self._stack_outputs[-1]), [self._stack_outputs[-1]])
        else:
            for name in list(self._modules):
                del self._modules[name]
            self.inputs, self.outputs, self._plan, self._layers = [], [], [], []
            self.built = False
        return layer

    def get_config(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """Keras 1's Sequential config: a list of layer configs, first layer first."""
        return [layer_to_config(layer) for layer in self._stack]

    @classmethod
    def from_config(  # type: ignore[override]
        cls, config: list[dict[str, Any]] | dict[str, Any], custom_objects: Any = None
    ) -> Sequential:
        if isinstance(config, dict):  # Keras 2 wraps the list: {"name": ..., "layers": [...]}
            name, config = config.get("name"), config["layers"]
        else:
            name = None
        model = cls(name=name)
        for entry in config:
            model.add(layer_from_config(entry, custom_objects))
        return model

    def build(self, input_shape: Any = None) -> None:
        """Nothing to do once layers are added (each is built by ``add``); as in Keras 1,
        ``build()`` takes no argument and refuses an empty model."""
        if not self._stack:
            raise TypeError(f"Sequential.build: model {self.name} is empty; add layers first")

    def _weight_layers(self) -> list[Layer]:
        return self.flattened_layers

    def predict_proba(self, x: Any, batch_size: int = 32, verbose: int = 1) -> Any:
        """``predict``, warning when the outputs are not probabilities."""
        import warnings

        preds = self.predict(x, batch_size, verbose)
        if preds.min() < 0.0 or preds.max() > 1.0:
            warnings.warn(
                "Network returning invalid probability values. The last layer might not "
                "normalize predictions into probabilities (like softmax or sigmoid would).",
                stacklevel=2,
            )
        return preds

    def predict_classes(self, x: Any, batch_size: int = 32, verbose: int = 1) -> np.ndarray:
        """Class indices: argmax for several outputs, ``p > 0.5`` for one."""
        preds = self.predict(x, batch_size, verbose)
        if preds.shape[-1] > 1:
            return preds.argmax(axis=-1)
        return (preds > 0.5).astype("int32")
