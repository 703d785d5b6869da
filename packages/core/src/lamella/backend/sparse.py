"""Keras 1's sparse-tensor checks, for torch's sparse layouts."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["is_sparse", "to_dense"]

_SPARSE_LAYOUTS = (
    torch.sparse_coo,
    torch.sparse_csr,
    torch.sparse_csc,
    torch.sparse_bsr,
    torch.sparse_bsc,
)


def is_sparse(tensor: Any) -> bool:
    """Whether ``tensor`` is a torch sparse tensor (any sparse layout); False for anything
    dense, numpy arrays included."""
    return isinstance(tensor, torch.Tensor) and tensor.layout in _SPARSE_LAYOUTS


def to_dense(tensor: Any) -> Any:
    """A sparse tensor densified (differentiably); anything else is returned as it is."""
    return tensor.to_dense() if is_sparse(tensor) else tensor
