"""Keras 1's ``BatchNormalization``, with its three modes and its running statistics."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.engine.weight_arguments import WeightArguments
from lamella.utils.arguments import invalid


class BatchNormalization(WeightArguments, Layer):
    """Normalizes each feature (each index along ``axis``), then scales by gamma, shifts by beta.

    * mode 0: ``(x - mean) / sqrt(var + epsilon) · gamma + beta`` with the batch's
      mean and (biased) variance while training, and the running ones at test time;
      each training batch moves them: ``running = running·momentum + batch·(1 - momentum)``.
    * mode 1: each sample over its last axis: ``(x - mean) / (std + epsilon) · gamma + beta``,
      ``std = sqrt(var + epsilon)``.
    * mode 2: as mode 0, but with the batch's statistics at test time too.

    Weights ``[gamma, beta, running_mean, running_std]``, the last two not trained.
    ``running_std`` holds the running *variance*, as in Keras 1, so weight files and
    Keras 2's ``moving_variance`` or torch's ``running_var`` carry over unchanged.

    Args:
        epsilon: A small positive number added to the variance, so that nothing
            is divided by zero (default 1e-3).
        mode: 0, 1 or 2, as above (default 0).
        axis: The feature axis, whose every index is normalized on its own:
            -1 (the default) for (batch, features) input and 'tf' images, 1 for
            'th' images (batch, channels, rows, cols). Mode 1 takes only -1.
        momentum: How much of the running statistics each training batch keeps,
            in [0, 1] (default 0.99).
        weights: Initial values ``[gamma, beta, running_mean, running_std]`` as
            numpy arrays, each of the size of the feature axis.
        beta_init: How beta is initialized, a registered initializer name or a
            function of a shape (default ``'zero'``).
        gamma_init: How gamma is initialized (default ``'one'``).
        gamma_regularizer: A penalty on gamma added to the training loss, or None.
        beta_regularizer: A penalty on beta, or None.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        Any, with a known size along ``axis``.

    Output shape:
        The input shape.
    """

    def __init__(
        self,
        epsilon: float = 1e-3,
        mode: int = 0,
        axis: int = -1,
        momentum: float = 0.99,
        weights: list[Any] | None = None,
        beta_init: Any = "zero",
        gamma_init: Any = "one",
        gamma_regularizer: Any = None,
        beta_regularizer: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if mode not in (0, 1, 2):
            raise invalid(self, "mode", "0, 1 or 2", mode)
        if not 0.0 <= momentum <= 1.0:
            raise invalid(self, "momentum", "a number in [0, 1]", momentum)
        if not epsilon > 0.0:
            raise invalid(self, "epsilon", "a positive number", epsilon)
        self.epsilon = epsilon
        self.mode = mode
        self.axis = axis
        self.momentum = momentum
        self.set_weight_arguments(
            weights=weights,
            beta_init=beta_init,
            gamma_init=gamma_init,
            gamma_regularizer=gamma_regularizer,
            beta_regularizer=beta_regularizer,
        )
        self.supports_masking = True
        self.uses_learning_phase = mode == 0

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if not -ndim < self.axis < ndim or self.axis % ndim == 0:
            raise invalid(
                self, "axis", f"a non-batch axis of the {ndim}D input {input_shape}", self.axis
            )
        axis = self.axis % ndim
        size = input_shape[axis]
        if size is None:
            raise ValueError(
                f"BatchNormalization {self.name}: the size of axis {self.axis} must be known, "
                f"got input shape {input_shape}"
            )
        if self.mode == 1 and axis != ndim - 1:
            raise invalid(
                self, "axis", "the last axis (-1) in mode 1, which normalizes over it", self.axis
            )
        self.input_spec = [InputSpec(shape=input_shape)]
        self._feature_axis = axis
        self._reduction_axes = tuple(d for d in range(ndim) if d != axis)
        self._broadcast = tuple(size if d == axis else 1 for d in range(ndim))
        shape = (size,)
        self.gamma = self.add_keras_weight(shape, self.gamma_init, "gamma")
        self.beta = self.add_keras_weight(shape, self.beta_init, "beta")
        self.running_mean = self.add_weight(shape, "zero", name="running_mean", trainable=False)
        self.running_std = self.add_weight(shape, "one", name="running_std", trainable=False)

    def call(self, x: torch.Tensor, mask: Any = None) -> torch.Tensor:
        if self.mode == 1:
            var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
            std = torch.sqrt(var + self.epsilon)
            return (x - mean) / (std + self.epsilon) * self.gamma + self.beta
        if self.training or self.mode == 2:
            # Written out rather than F.batch_norm: the running variance must be the
            # biased one (torch keeps the unbiased), and a batch of one sample must
            # give beta, as in Keras, where torch refuses it.
            var, mean = torch.var_mean(x, dim=self._reduction_axes, correction=0)
            if self.mode == 0:
                with torch.no_grad():
                    self.running_mean.mul_(self.momentum).add_(mean, alpha=1 - self.momentum)
                    self.running_std.mul_(self.momentum).add_(var, alpha=1 - self.momentum)
            mean, var, gamma, beta = (
                t.reshape(self._broadcast) for t in (mean, var, self.gamma, self.beta)
            )
            return (x - mean) / torch.sqrt(var + self.epsilon) * gamma + beta
        # Mode 0 at test time: the same formula on the running statistics, fused by torch.
        normed = F.batch_norm(
            x.movedim(self._feature_axis, 1),
            self.running_mean,
            self.running_std,
            self.gamma,
            self.beta,
            training=False,
            eps=self.epsilon,
        )
        return normed.movedim(1, self._feature_axis)

    def node_updates(self, node: Any) -> list[Any]:
        """Mode 0 moves the running mean and variance at each training batch; Keras 1 lists
        those two updates per call, as ``(variable, new_value)`` with a symbolic new value.
        lamella applies them inside ``call`` while training; the list is for code that reads
        ``model.updates`` or hands it to ``K.function``."""
        if self.mode != 0 or not node.inbound_tensors:
            return []
        cache = self._extra("_update_cache")
        if id(node) not in cache:
            from lamella.engine.operation import apply

            x = node.inbound_tensors[0]
            cache[id(node)] = [
                (self.running_mean, apply(self._moved_statistic, (x, "mean"), {})),
                (self.running_std, apply(self._moved_statistic, (x, "var"), {})),
            ]
        return cache[id(node)]

    def _moved_statistic(self, x: torch.Tensor, which: str) -> torch.Tensor:
        """The running mean or variance after one more batch ``x``."""
        var, mean = torch.var_mean(x, dim=self._reduction_axes, correction=0)
        running, batch = (self.running_mean, mean) if which == "mean" else (self.running_std, var)
        return running.to(batch.device) * self.momentum + batch * (1 - self.momentum)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "mode": self.mode,
            "axis": self.axis,
            "momentum": self.momentum,
            **self.weight_config(
                "beta_init", "gamma_init", "gamma_regularizer", "beta_regularizer"
            ),
        }
