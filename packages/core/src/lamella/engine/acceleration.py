"""The two opt-in speed settings of ``compile``: ``jit_compile`` and ``mixed_precision``.

Both are off by default: eager float32 is what PyTorch users expect and what
the loop is tuned for.  ``jit_compile=True`` (or a dict of ``torch.compile``
options) compiles the whole training step as one graph (``whole_step.py``); where
that cannot be done, the forward pass and the loss (whose backward pass AOTAutograd
compiles with them) for one batch size, and the optimizer's update
(``Optimizer.compile_step``).  ``mixed_precision='bf16'`` or
``'fp16'`` runs the forward pass under autocast, and for fp16 scales the loss with
``torch.amp.GradScaler`` so small gradients survive.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import torch

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16}
_NO_CONTEXT = contextlib.nullcontext()


def batch_size(inputs: list[torch.Tensor]) -> int:
    """The number of samples in a step's inputs (0 for a model without inputs)."""
    return int(inputs[0].shape[0]) if inputs else 0


class OneBatchSize:
    """``fn(inputs, ...)`` through ``torch.compile`` for the batch size of its first call.

    Other sizes (an epoch's last, shorter batch) run ``fn`` eagerly: the same maths,
    without compiling a second graph for a batch that comes once an epoch.
    """

    def __init__(self, fn: Callable[..., Any], options: Mapping[str, Any]):
        self.eager = fn
        self.compiled = torch.compile(fn, **{"dynamic": False, **options})
        self.size: int | None = None

    def __call__(self, inputs: list[torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        size = batch_size(inputs)
        if self.size is None:
            self.size = size
        run = self.compiled if size == self.size else self.eager
        return run(inputs, *args, **kwargs)


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
        # fp16 gradients underflow: torch's GradScaler scales the loss, skips a step
        # whose gradients overflowed and adapts the scale; it drives every lamella
        # optimizer, each a torch.optim.Optimizer
        self.scaler = torch.amp.GradScaler(device.type) if mixed_precision == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast to the mixed precision dtype; a free no-op context without one."""
        if self.dtype is None:
            return _NO_CONTEXT
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` compiled with torch.compile when jit_compile asked for it."""
        if self.jit_options is None:
            return fn
        return OneBatchSize(fn, self.jit_options)

    def backward_and_step(self, loss: torch.Tensor, optimizer: Any) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
