"""Keras 1's layer wrappers: ``TimeDistributed`` and ``Bidirectional`` on a ``Wrapper`` base.

A wrapper owns other layers: they are ``nn.Module`` children (so ``.to()``,
``train()`` and ``state_dict`` reach them) and ``_sublayers()`` (so their weights
are trained and saved).  Its ``weights``/``get_weights``/``set_weights`` are the
inner layers', in Keras's order.
"""

from __future__ import annotations

from typing import Any

import torch

from lamella.engine.serialization import layer_from_config, layer_to_config
from lamella.engine.topology import InputSpec, Layer, Shape

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _build_inner(layer: Layer, input_shape: Shape) -> None:
    """Build an inner layer for ``input_shape`` (once), checking its input spec first."""
    if layer.built:
        return
    for spec in layer.input_spec if isinstance(layer.input_spec, list) else [layer.input_spec]:
        if spec is not None:
            spec.check(layer, input_shape)
    layer.build(input_shape)
    layer._finish_build()


class Wrapper(Layer):
    """A layer that applies another layer; its config nests the inner layer's.

    Config: ``{"layer": {"class_name": ..., "config": ...}, ...}``, rebuilt through
    the registry like any layer.

    Args:
        layer: The layer to apply.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        What the subclass passes on to ``layer``.

    Output shape:
        What the subclass makes of ``layer``'s output.
    """

    def __init__(self, layer: Layer, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{type(self).__name__} {self.name}: layer must be a lamella layer, got "
                f"{type(layer).__name__} ({layer!r})"
            )
        self.layer = layer
        self.uses_learning_phase = layer.uses_learning_phase

    def _sublayers(self) -> list[Layer]:
        return [self.layer]

    @property
    def weights(self) -> list[torch.Tensor]:  # type: ignore[override]
        return [w for layer in self._sublayers() for w in layer.weights]

    def reset_states(self) -> None:
        """Reset the states of the stateful inner layers."""
        for layer in self._sublayers():
            if layer.stateful:
                layer.reset_states()

    def _inner_config(self) -> dict[str, Any]:
        return layer_to_config(self.layer)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": self._inner_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Layer:
        config = dict(config)
        layer = layer_from_config(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to every temporal slice of a (batch, timesteps, ...) input.

    The steps are folded into the batch, (b·t, ...), for one call of the inner
    layer; its weights are shared by every step and are this wrapper's weights.
    ``TimeDistributed(Dense(8))`` on (batch, 10, 16) gives (batch, 10, 8).

    Args:
        layer: The layer applied to each step, which takes ``(batch, ...)``.
        **kwargs: The common layer arguments (see ``Layer``); ``input_shape``
            counts the steps axis: ``(timesteps, ...)``.

    Input shape:
        ``(batch, timesteps, ...)``, at least 3D, the axes after ``timesteps``
        those ``layer`` takes.

    Output shape:
        ``(batch, timesteps, ...)`` with ``layer``'s output shape after the
        steps axis.
    """

    def __init__(self, layer: Layer, **kwargs: Any):
        super().__init__(layer, **kwargs)
        self.input_spec = [InputSpec(ndim="3+")]
        self.supports_masking = True

    @staticmethod
    def _inner_shape(input_shape: Shape) -> Shape:
        batch, steps = input_shape[:2]
        folded = batch * steps if batch is not None and steps is not None else None
        return (folded, *input_shape[2:])

    def build(self, input_shape: Shape) -> None:
        _build_inner(self.layer, self._inner_shape(input_shape))

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        inner = self.layer.get_output_shape_for(self._inner_shape(input_shape))
        return (input_shape[0], input_shape[1], *inner[1:])

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        batch, steps = x.shape[:2]
        y = self.layer.call(x.reshape(batch * steps, *x.shape[2:]))
        return y.reshape(batch, steps, *y.shape[1:])


class Bidirectional(Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two.

    ``merge_mode``: 'concat' (last axis), 'sum', 'mul', 'ave', or None (a list of
    both outputs).  The copy is rebuilt from the layer's config with
    ``go_backwards`` flipped; with ``return_sequences`` its output is reversed in
    time so both outputs line up step by step.  Weights: forward, then backward.

    Args:
        layer: The recurrent layer (SimpleRNN, GRU, LSTM) that runs forwards;
            its input shape, if it was given one, becomes this layer's.
        merge_mode: How the two outputs are merged, as above (default
            ``'concat'``).
        weights: Initial values: the forward layer's weights, then the
            backward layer's.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, input_dim)``.

    Output shape:
        ``layer``'s output shape, with the last axis doubled for ``'concat'``;
        for ``None``, a list of two such shapes.
    """

    def __init__(
        self,
        layer: Layer,
        merge_mode: str | None = "concat",
        weights: list[Any] | None = None,
        **kwargs: Any,
    ):
        if "batch_input_shape" not in kwargs and "input_shape" not in kwargs:
            given = getattr(layer, "batch_input_shape", None)
            if given is not None:
                kwargs["batch_input_shape"] = given
        super().__init__(layer, **kwargs)
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Bidirectional {self.name}: merge_mode must be one of {_MERGE_MODES}, "
                f"got {merge_mode!r}"
            )
        config = layer.get_config()
        if "go_backwards" not in config:
            raise TypeError(
                f"Bidirectional {self.name}: layer must be a recurrent layer (with "
                f"go_backwards), got {type(layer).__name__} {layer.name}"
            )
        self._inner_name = layer.name
        config["go_backwards"] = not config["go_backwards"]
        config["name"] = f"backward_{layer.name}"
        self.backward_layer = type(layer).from_config(config)
        layer.name = f"forward_{layer.name}"
        self.merge_mode = merge_mode
        if weights:
            half = len(weights) // 2
            self.layer._initial_weights = list(weights[:half])
            self.backward_layer._initial_weights = list(weights[half:])
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.input_spec = [InputSpec(ndim=3)]
        self.supports_masking = True

    @property
    def forward_layer(self) -> Layer:
        return self.layer

    def _sublayers(self) -> list[Layer]:
        return [self.layer, self.backward_layer]

    def build(self, input_shape: Shape) -> None:
        for layer in self._sublayers():
            _build_inner(layer, input_shape)

    def get_output_shape_for(self, input_shape: Shape) -> Any:
        shape = self.forward_layer.get_output_shape_for(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], shape[-1] * 2)
        if self.merge_mode is None:
            return [shape, shape]
        return shape

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        if not self.return_sequences:
            return None
        return [mask, mask] if self.merge_mode is None else mask

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return self.return_sequences and any(inputs_masked)

    def call(self, x: torch.Tensor, mask: Any = None) -> Any:
        forward = self.forward_layer.call(x, mask)
        backward = self.backward_layer.call(x, mask)
        if self.return_sequences:
            backward = backward.flip(1)
        if self.merge_mode == "concat":
            return torch.cat([forward, backward], -1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        if self.merge_mode == "ave":
            return (forward + backward) / 2
        return [forward, backward]

    def _inner_config(self) -> dict[str, Any]:
        config = layer_to_config(self.layer)
        config["config"]["name"] = self._inner_name  # rebuilding adds the prefix again
        return config

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "merge_mode": self.merge_mode}
