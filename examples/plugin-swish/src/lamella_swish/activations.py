"""The swish activation, registered so that ``activation='swish'`` works anywhere."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def swish(x: torch.Tensor) -> torch.Tensor:
    """``x · sigmoid(x)`` (Ramachandran et al., 2017), through torch's fused SiLU kernel.

    The function's ``__name__`` is its registered name, which is what a layer's
    config stores, so a saved ``Dense(..., activation='swish')`` loads back.
    """
    return F.silu(x)
