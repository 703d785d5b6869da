"""``time_distributed_dense``: Keras 1's helper of ``layers.recurrent``, in core.

It is plain tensor maths that custom recurrent layers call in ``call``, so it
lives here and ``lamella.layers.recurrent`` has it with or without
lamella-layers-recurrent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lamella.backend.state import learning_phase


def time_distributed_dense(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None = None,
    dropout: float | None = None,
    input_dim: int | None = None,
    output_dim: int | None = None,
    timesteps: int | None = None,
) -> torch.Tensor:
    """``x[:, t] · w + b`` for every timestep ``t`` of ``x`` (batch, timesteps, input_dim).

    With ``0 < dropout < 1``, while training (learning phase 1) the input features
    are dropped with one mask per sample shared by all timesteps, the kept ones
    scaled by ``1 / (1 - dropout)``.  The dimensions default to those of ``x``
    and ``w``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"time_distributed_dense: x must be a 3D tensor (batch, timesteps, input_dim), "
            f"got {got}"
        )
    input_dim = input_dim or x.shape[2]
    timesteps = timesteps or x.shape[1]
    output_dim = output_dim or w.shape[1]
    if dropout is not None and 0.0 < dropout < 1.0 and learning_phase() == 1:
        keep = F.dropout(x.new_ones(x.shape[0], 1, input_dim), dropout, training=True)
        x = x * keep
    y = x.reshape(-1, input_dim) @ w
    if b is not None:
        y = y + b
    return y.reshape(-1, timesteps, output_dim)
