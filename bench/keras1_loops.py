"""Keras 1's recurrent cells as a PyTorch user writes them: a loop over the steps, under autograd.

No fused kernel computes Keras 1's ``hard_sigmoid`` gates, its GRU (the reset gate applied
before the recurrent product) or its recurrent dropout (one mask per gate block and sample,
inside the step).  A PyTorch user who needs that maths writes the loop below: every step's
input projection in one product, then per step the recurrent product and the gate
arithmetic, autograd recording it all.  bench_recurrent.py times lamella's loop path against
this ("torch, same maths") as well as against torch's fused kernel doing its own maths.

The gates follow Keras 1: LSTM blocks i, f, c, o; GRU blocks z, r, h with
``h = z·h_prev + (1 - z)·tanh(x_h + (r·h_prev)·U_h)``.  Dropout is ``consume_less='cpu'``'s:
one mask per gate block on the input and on ``h``, drawn once per batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


def hard_sigmoid(z: Tensor) -> Tensor:
    """Keras 1's ``clip(0.2·z + 0.5, 0, 1)`` (torch's ``hardsigmoid`` has slope 1/6)."""
    return torch.clamp(0.2 * z + 0.5, 0.0, 1.0)


INNER = {"sigmoid": torch.sigmoid, "hard_sigmoid": hard_sigmoid}


class _KerasOneLoop(nn.Module):
    """Embedding -> a Keras 1 recurrent layer as a step loop -> Dense(1, sigmoid)."""

    blocks: int

    def __init__(
        self, words: int, embed: int, units: int, inner: str = "sigmoid", dropout: float = 0.0
    ):
        super().__init__()
        self.inner, self.dropout = INNER[inner], dropout
        self.embedding = nn.Embedding(words, embed)
        self.input = nn.Linear(embed, self.blocks * units)
        self.recurrent = nn.Linear(units, self.blocks * units, bias=False)
        self.dense = nn.Linear(units, 1)

    def masks(self, batch: int, dim: int, like: Tensor) -> Tensor | None:
        """One dropout mask per gate block and sample, (blocks, batch, dim), scaled by 1/keep."""
        if not (self.training and self.dropout):
            return None
        keep = 1.0 - self.dropout
        return like.new_empty(self.blocks, batch, dim).bernoulli_(keep) / keep

    def blockwise(self, x: Tensor, masks: Tensor | None, layer: nn.Linear) -> list[Tensor]:
        """Each gate block's ``layer`` rows applied to ``x`` times that block's mask."""
        if masks is None:
            return list(layer(x).chunk(self.blocks, -1))
        weights = layer.weight.chunk(self.blocks)
        biases = layer.bias.chunk(self.blocks) if layer.bias is not None else [None] * self.blocks
        masks = masks.unsqueeze(2) if x.dim() == 3 else masks  # the same mask at every step
        return [F.linear(x * m, w, b) for m, w, b in zip(masks, weights, biases, strict=True)]

    def forward(self, words: Tensor) -> Tensor:
        x = self.embedding(words)  # (batch, steps, embed)
        batch, units = x.shape[0], self.recurrent.in_features
        projected = self.blockwise(x, self.masks(batch, x.shape[-1], x), self.input)
        masks_U = self.masks(batch, units, x)
        h = x.new_zeros(batch, units)
        state = (h, h)
        for t in range(x.shape[1]):
            state = self.step([block[:, t] for block in projected], state, masks_U)
        return torch.sigmoid(self.dense(state[0]))

    def step(self, x: list[Tensor], state: tuple[Tensor, Tensor], masks: Tensor | None):
        raise NotImplementedError


class KerasOneLSTM(_KerasOneLoop):
    blocks = 4

    def step(self, x: list[Tensor], state: tuple[Tensor, Tensor], masks: Tensor | None):
        h, c = state
        x_i, x_f, x_c, x_o = x
        u_i, u_f, u_c, u_o = self.blockwise(h, masks, self.recurrent)
        c = self.inner(x_f + u_f) * c + self.inner(x_i + u_i) * torch.tanh(x_c + u_c)
        return self.inner(x_o + u_o) * torch.tanh(c), c


class KerasOneGRU(_KerasOneLoop):
    blocks = 3

    def step(self, x: list[Tensor], state: tuple[Tensor, Tensor], masks: Tensor | None):
        h = state[0]
        x_z, x_r, x_h = x
        U_z, U_r, U_h = self.recurrent.weight.chunk(3)
        m_z, m_r, m_h = [None] * 3 if masks is None else masks
        z = self.inner(x_z + F.linear(h if m_z is None else h * m_z, U_z))
        r = self.inner(x_r + F.linear(h if m_r is None else h * m_r, U_r))
        hh = torch.tanh(x_h + F.linear(r * (h if m_h is None else h * m_h), U_h))
        h = z * h + (1 - z) * hh
        return h, h
