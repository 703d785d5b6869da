"""What ``compile`` sets up for each model output: its loss, weight and metrics.

Names follow Keras 1: ``'accuracy'`` is reported as ``acc`` and picks binary,
categorical or sparse accuracy from the loss and the output shape; other
metrics use their function's ``__name__``; with several outputs every name gets
the output's name as a prefix and each output's loss is reported too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lamella import losses as loss_module
from lamella import metrics as metric_module

Shape = tuple[int | None, ...]
Metric = Callable[[torch.Tensor, torch.Tensor], Any]


@dataclass(frozen=True)
class MetricSpec:
    """A metric, the names it is reported under and, for a dict result, its keys."""

    names: list[str]
    fn: Metric
    keys: list[str] | None = None


@dataclass
class OutputObjective:
    """The loss and metrics computed on one model output."""

    output_name: str
    output_shape: Shape
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    loss_weight: float = 1.0
    temporal: bool = False
    metrics: list[MetricSpec] = field(default_factory=list)

    @property
    def sparse(self) -> bool:
        """Targets are class indices (kept as integers on the device)."""
        return self.loss is loss_module.sparse_categorical_crossentropy

    def weighted_loss(
        self,
        y_true: torch.Tensor,
        y_pred: torch.Tensor,
        weights: torch.Tensor | None,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Keras 1's weighted objective: mask, then sample weights, then the mean."""
        scores = self.loss(y_true, y_pred)
        if weights is None and mask is None:
            return scores.mean()
        if mask is not None:
            mask = mask.to(scores.dtype)
            while mask.dim() > scores.dim():
                mask = mask.all(-1) if mask.dtype == torch.bool else mask.amin(-1)
            scores = scores * mask / mask.mean().clamp_min(1e-12)
        if weights is not None:
            while scores.dim() > weights.dim():
                scores = scores.mean(-1)
            scores = scores * weights
            nonzero = (weights != 0).to(scores.dtype).mean().clamp_min(1e-12)
            return scores.mean() / nonzero
        return scores.mean()


def _per_output(value: Any, names: Sequence[str], what: str) -> list[Any]:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(
                f"compile: {what} names unknown outputs {unknown}; the outputs are {list(names)}"
            )
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(
                f"compile: {what} has {len(value)} entries but the model has {len(names)} "
                f"outputs ({list(names)})"
            )
        return list(value)
    return [value] * len(names)


def _accuracy_for(objective: OutputObjective) -> Metric:
    if objective.loss is loss_module.binary_crossentropy or objective.output_shape[-1] == 1:
        return metric_module.binary_accuracy
    if objective.sparse:
        return metric_module.sparse_categorical_accuracy
    return metric_module.categorical_accuracy


def _dict_keys(metric: Metric, objective: OutputObjective) -> list[str] | None:
    """A metric returning a dict reports each key; find them with one tiny probe call."""
    shape = tuple(1 if d is None else d for d in objective.output_shape)
    try:
        with torch.no_grad():
            probe = metric(torch.zeros(shape), torch.zeros(shape))
    except Exception:
        return None
    return list(probe) if isinstance(probe, Mapping) else None


def build_objectives(
    output_names: Sequence[str],
    output_shapes: Sequence[Shape],
    loss: Any,
    metrics: Any = None,
    loss_weights: Any = None,
    sample_weight_mode: Any = None,
) -> list[OutputObjective]:
    losses = [loss_module.get(item) for item in _per_output(loss, output_names, "loss")]
    weights = _per_output(loss_weights, output_names, "loss_weights")
    modes = _per_output(sample_weight_mode, output_names, "sample_weight_mode")
    objectives = []
    for name, shape, fn, weight, mode in zip(
        output_names, output_shapes, losses, weights, modes, strict=True
    ):
        if mode not in (None, "temporal"):
            raise ValueError(
                f"compile: sample_weight_mode must be None or 'temporal', got {mode!r}"
            )
        objectives.append(
            OutputObjective(
                name,
                tuple(shape),
                fn,
                1.0 if weight is None else float(weight),
                temporal=mode == "temporal",
            )
        )
    if metrics is None:
        metrics = []
    if isinstance(metrics, Mapping):
        per_output = [
            [wanted] if isinstance(wanted, str) or callable(wanted) else wanted
            for wanted in _per_output(metrics, output_names, "metrics")
        ]
    elif isinstance(metrics, (list, tuple)):
        per_output = [metrics] * len(output_names)
    else:
        raise TypeError(
            "compile: metrics must be a list (metrics=['accuracy']) or a dict by output name "
            f"(metrics={{'output': 'accuracy'}}), got {metrics!r}"
        )
    for objective, wanted in zip(objectives, per_output, strict=True):
        for metric in wanted or []:
            if metric in ("accuracy", "acc"):
                fn, label = _accuracy_for(objective), "acc"
            else:
                fn = metric_module.get(metric)
                label = getattr(fn, "__name__", type(fn).__name__)
            prefix = f"{objective.output_name}_" if len(objectives) > 1 else ""
            keys = _dict_keys(fn, objective)
            names = [prefix + k for k in keys] if keys else [prefix + label]
            objective.metrics.append(MetricSpec(names, fn, keys))
    return objectives


def metrics_names(objectives: Sequence[OutputObjective]) -> list[str]:
    names = ["loss"]
    if len(objectives) > 1:
        names += [f"{o.output_name}_loss" for o in objectives]
    for objective in objectives:
        for spec in objective.metrics:
            names.extend(spec.names)
    return deduplicate(names)


def deduplicate(names: list[str]) -> list[str]:
    """Keras appends _1, _2 ... to repeated metric names."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        if name in seen:
            seen[name] += 1
            result.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 0
            result.append(name)
    return result


def _batch_value(part: Any) -> torch.Tensor:
    """A metric's value for a batch: a scalar as it is, per-sample values averaged."""
    value = torch.as_tensor(part)
    return value.float().mean() if value.dim() else value


def compute(
    objectives: Sequence[OutputObjective],
    outputs: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor | None],
    masks: Sequence[torch.Tensor | None],
    penalties: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The total loss (for backward) and every reported value, as one detached vector."""
    per_output = [
        o.weighted_loss(y, p, w, m)
        for o, p, y, w, m in zip(objectives, outputs, targets, weights, masks, strict=True)
    ]
    total = per_output[0] * objectives[0].loss_weight
    for objective, value in zip(objectives[1:], per_output[1:], strict=True):
        total = total + value * objective.loss_weight
    for penalty in penalties:
        total = total + penalty
    with torch.no_grad():
        values = [total.detach()]
        if len(objectives) > 1:
            values.extend(v.detach() for v in per_output)
        for objective, y_pred, y_true in zip(objectives, outputs, targets, strict=True):
            for spec in objective.metrics:
                result = spec.fn(y_true, y_pred.detach())
                parts = [result[k] for k in spec.keys] if spec.keys else [result]
                values.extend(_batch_value(part) for part in parts)
        vector = torch.stack([v.reshape(()).float() for v in values])
    return total, vector
