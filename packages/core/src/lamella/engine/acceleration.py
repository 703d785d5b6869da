"""The two opt-in speed settings of ``compile``: ``jit_compile`` and ``mixed_precision``.

Both are off by default: eager float32 is what PyTorch users expect and what
the loop is tuned for.  ``jit_compile=True`` (or a dict of ``torch.compile``
options) compiles the pure part of a step, the forward pass and the loss;
``mixed_precision='bf16'`` or ``'fp16'`` runs it under autocast, and for fp16
scales the loss so small gradients survive.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import torch

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16}
_NO_CONTEXT = contextlib.nullcontext()


class LossScaler:
    """Dynamic loss scaling for fp16, for any lamella optimizer (torch's GradScaler
    only drives ``torch.optim`` optimizers).

    The scale grows by ``growth_factor`` after ``growth_interval`` clean steps and
    shrinks by ``backoff_factor`` when a gradient overflows; that step is skipped.
    Checking for overflow reads one flag from the device per step.
    """

    def __init__(
        self,
        device: torch.device,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ):
        self.scale = torch.full((), init_scale, dtype=torch.float32, device=device)
        self.growth_tracker = torch.zeros((), dtype=torch.int32, device=device)
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval

    def backward_and_step(self, loss: torch.Tensor, optimizer: Any) -> None:
        (loss * self.scale).backward()
        grads = [p.grad for p in optimizer.params if p.grad is not None]
        found_inf = torch.zeros((), dtype=torch.float32, device=self.scale.device)
        if grads:
            torch._amp_foreach_non_finite_check_and_unscale_(
                grads, found_inf, self.scale.reciprocal()
            )
        if not bool(found_inf):
            optimizer.step()
        torch._amp_update_scale_(
            self.scale,
            self.growth_tracker,
            found_inf,
            self.growth_factor,
            self.backoff_factor,
            self.growth_interval,
        )


class Acceleration:
    """What ``compile(jit_compile=..., mixed_precision=...)`` asked for, ready to apply."""

    def __init__(
        self,
        device: torch.device,
        jit_compile: bool | Mapping[str, Any] = False,
        mixed_precision: str | None = None,
    ):
        if mixed_precision is not None and mixed_precision not in PRECISIONS:
            raise ValueError(
                f"compile: mixed_precision must be None, 'bf16' or 'fp16', got {mixed_precision!r}"
            )
        if not isinstance(jit_compile, (bool, Mapping)):
            raise TypeError(
                "compile: jit_compile must be True, False or a dict of torch.compile options, "
                f"got {jit_compile!r}"
            )
        self.device = device
        self.dtype = PRECISIONS.get(mixed_precision) if mixed_precision else None
        self.jit_options: dict[str, Any] | None = (
            dict(jit_compile) if isinstance(jit_compile, Mapping) else {} if jit_compile else None
        )
        self.scaler = LossScaler(device) if mixed_precision == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast to the mixed precision dtype; a free no-op context without one."""
        if self.dtype is None:
            return _NO_CONTEXT
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` compiled with torch.compile when jit_compile asked for it."""
        if self.jit_options is None:
            return fn
        return torch.compile(fn, **self.jit_options)

    def backward_and_step(self, loss: torch.Tensor, optimizer: Any) -> None:
        if self.scaler is not None:
            self.scaler.backward_and_step(loss, optimizer)
        else:
            loss.backward()
            optimizer.step()
