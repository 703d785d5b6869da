"""Whole-sequence recurrences with a backward pass written by hand: the loop path's engine.

torch's fused kernels compute tanh/sigmoid LSTMs and reset-after GRUs only.  Keras 1's
other recurrences (``hard_sigmoid`` gates, the GRU that resets ``h`` before ``U_h``, the
dropout masks inside the step) used to run as a Python loop under autograd, which records
a dozen small operations per step and replays them backwards: that bookkeeping, not the
arithmetic, set the speed.  Here each cell is one ``torch.autograd.Function`` over the
whole sequence, its input projection included:

* forward: ``W·x + b`` for every step in one batched product, then the step loop without
  autograd, each result written into buffers allocated once per call (``out=``; the LSTM
  adds ``U·h`` into the projection's buffer in place);
* backward: the reverse recurrence by hand.  What does not depend on the recurrence (the
  activations' slopes times the saved gates) is computed for all steps at once before the
  loop, so a step is one matrix product and a few element-wise operations; the weights'
  gradients are one matrix product each (one per dropout mask), over all steps, after it.

A step's tensors are feature-major, ``(features, batch)``: ``U·h`` reads ``weight_hh`` as
it is stored, and each gate block is a contiguous run of rows, which element-wise
operations go through fastest.  Buffers over the sequence are ``(t, ·, b)``.

Fewer operations per step: each activation is ``post(core(scale·z + shift))`` with a
one-operation ``core`` (sigmoid, clip, ...) and an optional affine ``post``, and every
gate's ``scale`` and ``shift`` are folded into the rows of the weights that produce its
``z`` (a few small products per call).  Keras 1's hard_sigmoid ``clip(0.2z + 0.5, 0, 1)``
becomes one clip.  On the CPU, whose ``tanh`` runs element by element and several times
slower than its vectorized ``sigmoid``, tanh is ``2·sigmoid(2z) - 1``; the LSTM keeps its
cell state times -2 so that ``o·tanh(c) = o - 2·o·sigmoid(-2c)`` is a sigmoid and one
``addcmul``.  These are the same functions; results equal the step-by-step maths up to
float rounding (1e-6).

Keras's masks (a masked step keeps the states and outputs the previous ``h``) and Keras 1's
dropout masks (one per sample for the sequence: per gate block with ``consume_less``
'cpu'/'mem', one shared with 'gpu') are handled inside.  The backward is first-order:
differentiating these gradients again raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from lamella import activations

Tensor = torch.Tensor


# -- activations ------------------------------------------------------------------------


def _sigmoid(u: Tensor, out: Tensor) -> Tensor:
    return torch.sigmoid(u, out=out)


def _clip(u: Tensor, out: Tensor) -> Tensor:
    return torch.clamp(u, 0.0, 1.0, out=out)


def _tanh(u: Tensor, out: Tensor) -> Tensor:
    return torch.tanh(u, out=out)


def _relu(u: Tensor, out: Tensor) -> Tensor:
    return torch.clamp_min(u, 0.0, out=out)


def _identity(u: Tensor, out: Tensor) -> Tensor:
    return out if out is u else out.copy_(u)


@dataclass(frozen=True)
class Activation:
    """An activation as the kernels run it: ``post(core(scale·z + shift))``.

    ``core(u, out)`` writes into ``out`` (which may be ``u``); ``post`` is ``(m, c)`` for
    ``m·v + c``, or None; ``core_slope(s, out)`` is core's derivative from its value ``s``
    (so the kernels keep values, not inputs).
    """

    name: str
    core: Callable[[Tensor, Tensor], Tensor]
    core_slope: Callable[[Tensor, Tensor | None], Tensor]
    scale: float = 1.0
    shift: float = 0.0
    post: tuple[float, float] | None = None

    def folded_slope(self, value: Tensor, out: Tensor | None = None) -> Tensor:
        """The derivative with respect to the folded input ``scale·z + shift``, from the
        activation's value."""
        if self.post is None:
            return self.core_slope(value, out)
        m, c = self.post
        core = torch.sub(value, c, out=out).div_(m)
        return self.core_slope(core, core).mul_(m)


def _sigmoid_slope(s: Tensor, out: Tensor | None) -> Tensor:
    return torch.addcmul(s, s, s, value=-1.0, out=out)  # s (1 - s)


def _clip_slope(s: Tensor, out: Tensor | None) -> Tensor:
    # 1 on the linear piece (0 < s < 1, where s - s² > 0), 0 where clipped.  At the kinks
    # themselves (s exactly 0 or 1 from an unclipped input) autograd of the clip would
    # pass 1; no input reaches them in practice.
    return torch.addcmul(s, s, s, value=-1.0, out=out).sign_()


def _tanh_slope(s: Tensor, out: Tensor | None) -> Tensor:
    return torch.addcmul(s.new_ones(()), s, s, value=-1.0, out=out)  # 1 - s²


def _relu_slope(s: Tensor, out: Tensor | None) -> Tensor:
    return torch.sign(s, out=out)  # s >= 0: 1 where positive


def _identity_slope(s: Tensor, out: Tensor | None) -> Tensor:
    return torch.ones_like(s) if out is None else out.fill_(1.0)


_SIGMOID = Activation("sigmoid", _sigmoid, _sigmoid_slope)
# Keras 1's clip(0.2z + 0.5, 0, 1), its 0.2 and 0.5 folded into the weights.
_HARD_SIGMOID = Activation("hard_sigmoid", _clip, _clip_slope, 0.2, 0.5)
_TANH = Activation("tanh", _tanh, _tanh_slope)
# tanh(z) = 2·sigmoid(2z) - 1, for the CPU (within 2.5e-7 of its tanh).
_TANH_BY_SIGMOID = Activation("tanh", _sigmoid, _sigmoid_slope, 2.0, 0.0, (2.0, -1.0))
_RELU = Activation("relu", _relu, _relu_slope)
_LINEAR = Activation("linear", _identity, _identity_slope)

_BY_NAME = {a.name: a for a in (_SIGMOID, _HARD_SIGMOID, _TANH, _RELU, _LINEAR)}
_ON_CPU = {**_BY_NAME, "tanh": _TANH_BY_SIGMOID}
_NAMES: dict[object, str] = {
    **dict.fromkeys((activations.tanh, torch.tanh, F.tanh), "tanh"),
    **dict.fromkeys((activations.sigmoid, torch.sigmoid, F.sigmoid), "sigmoid"),
    activations.hard_sigmoid: "hard_sigmoid",
    **dict.fromkeys((activations.relu, torch.relu, F.relu), "relu"),
    activations.linear: "linear",
}


def activation(fn: object) -> str | None:
    """The name under which the kernels run an activation function, or None if they
    do not know it."""
    try:
        return _NAMES.get(fn)
    except TypeError:  # an unhashable callable
        return None


class _Affine:
    """``m·v + c`` in one operation (``c`` a 0-dim tensor, made once per call)."""

    def __init__(self, m: float, c: float, like: Tensor):
        self.identity = m == 1.0 and c == 0.0
        self.m, self.c = m, like.new_full((), c)

    def apply(self, value: Tensor, out: Tensor) -> Tensor:
        if self.identity:
            return _identity(value, out)
        return torch.add(self.c, value, alpha=self.m, out=out)


def _post(act: Activation, gain: float, like: Tensor) -> _Affine:
    """``gain`` times ``act``'s post map."""
    m, c = act.post or (1.0, 0.0)
    return _Affine(gain * m, gain * c, like)


class _Folding:
    """The scale and shift of each gate block's activation, folded into the weight rows
    that produce the block's input; and the gradients back from the folded weights."""

    def __init__(self, blocks: list[Activation], n: int, like: Tensor):
        self.active = any(b.scale != 1.0 or b.shift != 0.0 for b in blocks)
        if self.active:
            table = torch.tensor([(b.scale, b.shift) for b in blocks], dtype=like.dtype)
            self.scale, self.shift = table.to(like.device).repeat_interleave(n, 0).unbind(1)

    def weight(self, weight: Tensor) -> Tensor:
        return weight * self.scale.unsqueeze(1) if self.active else weight

    def bias(self, bias: Tensor, shifted: bool = True) -> Tensor:
        if not self.active:
            return bias
        return torch.addcmul(self.shift, bias, self.scale) if shifted else bias * self.scale

    def grad(self, grad: Tensor | None) -> Tensor | None:
        """The gradient of an unfolded weight (or bias) from that of the folded one."""
        if grad is None or not self.active:
            return grad
        return grad * (self.scale.unsqueeze(1) if grad.dim() == 2 else self.scale)


# -- the input projection ---------------------------------------------------------------


class _Projection:
    """``W·(x * m) + b`` for every step at once, step-major (t, k·n, b), with Keras 1's
    dropout masks ``m`` on the input: none, one shared by the k gate blocks (1, b, d), or
    one per block (k, b, d).  Its backward takes the gradients as a (k·n, t·b) matrix."""

    def __init__(self, x: Tensor, weight: Tensor, bias: Tensor, masks: Tensor | None):
        self.k = 1 if masks is None else masks.shape[0]
        steps = x.transpose(0, 1)  # (t, b, d)
        if masks is None:
            steps = steps.contiguous()
        else:  # the same mask at every step: (k, t, b, d), or (t, b, d) for a shared one
            masked = x.new_empty(self.k, *steps.shape)  # in this order, whatever x's layout
            steps = torch.mul(steps.unsqueeze(0), masks.unsqueeze(1), out=masked)
            if self.k == 1:
                steps = steps[0]
        self.steps, self.weight, self.bias, self.masks = steps, weight, bias, masks
        self.dim = x.shape[2]

    def forward(self) -> Tensor:
        k, width = self.k, self.weight.shape[0]
        length, batch = self.steps.shape[-3:-1]
        if k == 1:  # one batched product over the steps
            weight = self.weight.expand(length, *self.weight.shape)
            return torch.baddbmm(self.bias.view(1, -1, 1), weight, self.steps.transpose(1, 2))
        n = width // k
        out = self.weight.new_empty(length, k, n, batch)
        blocks = zip(self.weight.view(k, n, -1), self.bias.view(k, n, 1), self.steps, strict=True)
        for block, (weight, bias, steps) in enumerate(blocks):
            weight = weight.expand(length, *weight.shape)
            out[:, block] = torch.baddbmm(bias, weight, steps.transpose(1, 2))
        return out.view(length, width, batch)

    def backward(self, grad: Tensor, needs: tuple[bool, ...]) -> list[Tensor | None]:
        """Gradients at x, the weight and the bias, from the gradient ``grad`` (k·n, t·b):
        one product per mask for each."""
        grad_x = grad_weight = grad_bias = None
        k, shape = self.k, self.steps.shape[-3:]
        blocks = list(zip(grad.t().chunk(k, 1), self.weight.chunk(k), strict=True))
        if needs[0]:
            if self.masks is None:
                at_steps = grad.t().mm(self.weight).view(shape)
            else:  # the sum over the blocks of each block's gradient times its mask
                at_steps = scratch = None
                for (block, weight), mask in zip(blocks, self.masks, strict=True):
                    scratch = torch.mm(block, weight, out=scratch)
                    if at_steps is None:
                        at_steps = scratch.view(shape) * mask
                    else:
                        at_steps.addcmul_(scratch.view(shape), mask)
            grad_x = at_steps.transpose(0, 1)
        if needs[1]:
            grad_weight = self.weight.new_empty(self.weight.shape)
            rows = self.steps.reshape(k, -1, self.dim)
            for (block, _), steps, out in zip(blocks, rows, grad_weight.chunk(k), strict=True):
                torch.mm(block.t(), steps, out=out)
        if needs[2]:
            grad_bias = grad.sum(1)
        return [grad_x, grad_weight, grad_bias]


# -- the recurrent product --------------------------------------------------------------


class _Product:
    """``base + U·(h * m)`` for some gate blocks of the recurrent weight (feature-major:
    h is (n, b)), with Keras 1's dropout masks ``m`` on h: none, one shared by the blocks
    (1, n, b), or one per block (k, n, b).

    ``weight`` holds the blocks' rows of the layer's ``weight_hh``: (k·n, n).
    """

    def __init__(self, weight: Tensor, masks: Tensor | None):
        self.weight, self.masks = weight, masks
        self.k = 1 if masks is None else masks.shape[0]
        if self.k > 1:
            self.n = weight.shape[1]
            self.blocks = weight.view(self.k, self.n, self.n)

    def forward(self, base: Tensor, h: Tensor, out: Tensor) -> Tensor:
        if self.masks is None:
            return torch.addmm(base, self.weight, h, out=out)
        if self.k == 1:
            return torch.addmm(base, self.weight, h * self.masks[0], out=out)
        split = (self.k, self.n, -1)
        return torch.baddbmm(base.view(split), self.blocks, h * self.masks, out=out.view(split))

    def backward(self, grad: Tensor, base: Tensor | None) -> Tensor:
        """``base`` plus the gradient at ``h``, given the gradient ``grad`` of the product."""
        if self.masks is None:
            if base is None:
                return self.weight.t().mm(grad)
            return torch.addmm(base, self.weight.t(), grad)
        if self.k == 1:
            at_h = self.weight.t().mm(grad).mul_(self.masks[0])
        else:
            per_block = torch.bmm(self.blocks.transpose(1, 2), grad.view(self.k, self.n, -1))
            at_h = per_block.mul_(self.masks).sum(0)
        return at_h if base is None else at_h.add_(base)

    def weight_grad(self, grad: Tensor, inputs: Tensor) -> Tensor:
        """The weight rows' gradient from every step's ``grad`` (k·n, t·b) and the ``h``
        each step multiplied (t, n, b): one matrix product over all steps."""
        k, n = self.k, inputs.shape[1]
        by_feature = inputs.transpose(0, 1)  # (n, t, b), as grad's columns
        if self.masks is not None:
            by_feature = by_feature.unsqueeze(0) * self.masks.unsqueeze(2)  # (k, n, t, b)
        if k == 1:
            return grad.mm(by_feature.reshape(n, -1).t())
        per_block = torch.bmm(grad.view(k, n, -1), by_feature.reshape(k, n, -1).transpose(1, 2))
        return per_block.flatten(0, 1)


# -- what every kernel shares -----------------------------------------------------------


def _states(first: Tensor, steps: int) -> Tensor:
    """A (t + 1, n, b) buffer for a state over the sequence, its initial value first."""
    buffer = first.new_empty(steps + 1, *first.shape[::-1])
    buffer[0] = first.t()
    return buffer


def _masked(keep: Tensor | None, *slopes: Tensor) -> None:
    """Zero the slopes at masked steps, in place: a masked step computes nothing."""
    if keep is not None:
        for slope in slopes:
            slope.mul_(keep)


def _passing(keep: Tensor | None, gate: Tensor) -> Tensor:
    """A gate the state's gradient passes back through: 1 at masked steps."""
    return gate if keep is None else torch.where(keep, gate, torch.ones_like(gate))


def _feature_major(masks: Tensor | None) -> Tensor | None:
    """Dropout masks (k, b, n) as the recurrent product takes them, (k, n, b)."""
    return None if masks is None else masks.transpose(1, 2).contiguous()


def _step_grads(grad_seq: Tensor) -> Tensor:
    """The gradient at every step's h, (t, n, b), from the gradient at (b, t, n).  Copied:
    element-wise operations on operands of different layouts take a slow path."""
    return grad_seq.permute(1, 2, 0).contiguous()


def _by_feature(grad: Tensor) -> Tensor:
    """Gradients (t, k·n, b) as one (k·n, t·b) matrix, for the weights' products."""
    return grad.transpose(0, 1).reshape(grad.shape[1], -1)


def _rows(buffer: Tensor, *blocks: slice) -> list[tuple[Tensor, ...]]:
    """Per-step views of a (t, ·, b) buffer's row blocks: one tuple per step."""
    return list(zip(*(buffer[:, rows].unbind(0) for rows in blocks), strict=True))


class _Kernel(torch.autograd.Function):
    """What the cells share: inputs x (b, t, d), weight_ih, bias, weight_hh, h0 first;
    the folding of activation scales into the weights; the input projection."""

    @staticmethod
    def _start(ctx, x, weight_ih, bias, masks_W, folding: _Folding) -> Tensor:
        ctx.folding = folding
        ctx.projection = _Projection(x, folding.weight(weight_ih), folding.bias(bias), masks_W)
        return ctx.projection.forward()

    @staticmethod
    def _finish(ctx, grad_projection: Tensor, grad_weight_hh: Tensor | None) -> list:
        """x's, weight_ih's, bias's and weight_hh's gradients, from those at the projection
        (k·n, t·b) and at the folded weight_hh."""
        grads = ctx.projection.backward(grad_projection, ctx.needs_input_grad[:3])
        folding = ctx.folding
        return [
            grads[0],
            folding.grad(grads[1]),
            folding.grad(grads[2]),
            folding.grad(grad_weight_hh),
        ]


# -- LSTM -------------------------------------------------------------------------------

#: The kernel's order of the LSTM's gate blocks, as indices into the layer's i, f, c, o:
#: o, i, f, c makes the inner activation's blocks (o, i, f) one run of rows, and the blocks
#: that the cell state's gradient reaches (i, f, c) another.  ``_LSTM_BACK`` undoes it.
_LSTM_ORDER, _LSTM_BACK = [3, 0, 1, 2], [1, 2, 3, 0]


def _reordered(tensor: Tensor | None, order: list[int]) -> Tensor | None:
    """The gate blocks of ``tensor`` (its first dimension, 4·n rows or 4 masks) in ``order``;
    a mask shared by the blocks as it is."""
    if tensor is None or tensor.shape[0] == 1:
        return tensor
    return tensor.unflatten(0, (4, -1))[order].flatten(0, 1)


class _LSTM(torch.autograd.Function):
    """Keras 1's LSTM; the gate blocks in the order o, i, f, c (``_LSTM_ORDER``), so that
    each of the runs of blocks that one operation goes through (o, i, f for the inner
    activation; i, f, c for the cell state's gradient) is one contiguous run of rows.

    The cell state is kept as ``S = κ·c``.  With ``h = o·act(c)``, ``act(c) = core(S + shift)``
    for κ = act's scale; for ``tanh(c) = 1 - 2·sigmoid(-2c)`` (the CPU's tanh) κ = -2, and
    ``h = o - 2·o·sigmoid(S)`` is one ``addcmul``.  The c block's value goes into the cell
    as ``G = κ·act(z_c)``.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, h0, c0, masks_W, masks_U, keep, act, inner):  # type: ignore[override]
        n = weight_hh.shape[1]
        folding = _Folding([inner, inner, inner, act], n, weight_hh)
        weight_ih, bias, weight_hh = (
            _reordered(w, _LSTM_ORDER) for w in (weight_ih, bias, weight_hh)
        )
        masks_W, masks_U = _reordered(masks_W, _LSTM_ORDER), _reordered(masks_U, _LSTM_ORDER)
        projection = _Projection(x, folding.weight(weight_ih), folding.bias(bias), masks_W)
        ctx.projection, ctx.folding = projection, folding
        gates = projection.forward()  # (t, 4·n, b), blocks o, i, f, c
        steps, _, batch = gates.shape
        weight_hh = folding.weight(weight_hh)
        masks = _feature_major(masks_U)
        if act.post is None:  # h = o·core(S + shift)
            kappa, a = act.scale, 1.0
        else:  # m·sigmoid(u) + c0 = (m + c0) - m·sigmoid(-u), and m + c0 = 1 (tanh)
            kappa, a = -act.scale, -act.post[0]
        to_g, inner_post = _post(act, kappa, x), _post(inner, 1.0, x)
        shared_core = inner.core is act.core and inner_post.identity
        g = gates[:, 3 * n :] if to_g.identity else x.new_empty(steps, n, batch)
        s, cell, h_seq = torch.empty_like(g), _states(c0 * kappa, steps), _states(h0, steps)
        masked_h = None if masks is None else torch.empty_like(masks)  # h times its masks
        per_gate = masks is not None and masks.shape[0] > 1
        blocks = weight_hh.view(4, n, n) if per_gate else None
        cells, hs = cell.unbind(0), h_seq.unbind(0)
        columns = zip(
            gates.unbind(0),
            gates[:, : 3 * n].unbind(0),
            *(gates[:, k * n : (k + 1) * n].unbind(0) for k in range(4)),
            g.unbind(0),
            s.unbind(0),
            cells[:-1],
            cells[1:],
            hs[:-1],
            hs[1:],
            strict=True,
        )
        for t, (z, z_ifo, o, i, f, z_c, g_t, s_t, c, c_t, h, h_t) in enumerate(columns):
            if masks is None:
                z.addmm_(weight_hh, h)
            elif per_gate:
                z.view(4, n, batch).baddbmm_(blocks, torch.mul(h, masks, out=masked_h))
            else:
                z.addmm_(weight_hh, torch.mul(h, masks[0], out=masked_h[0]))
            if shared_core:  # one call for every block
                inner.core(z, z)
            else:
                act.core(z_c, z_c)
                inner_post.apply(inner.core(z_ifo, z_ifo), z_ifo)
            if not to_g.identity:
                to_g.apply(z_c, g_t)
            torch.mul(f, c, out=c_t).addcmul_(i, g_t)
            if act.shift:
                act.core(torch.add(c_t, act.shift, out=s_t), s_t)
            else:
                act.core(c_t, s_t)
            if a == 1.0:
                torch.mul(o, s_t, out=h_t)
            else:
                torch.addcmul(o, o, s_t, value=a, out=h_t)
            if keep is not None:
                torch.where(keep[t], h_t, h, out=h_t)
                torch.where(keep[t], c_t, c, out=c_t)
        ctx.save_for_backward(weight_hh, masks, keep, gates, g, s, cell, h_seq)
        ctx.act, ctx.inner, ctx.kappa, ctx.a = act, inner, kappa, a
        c_last = cell[-1].t()
        return h_seq[1:].permute(2, 0, 1), c_last / kappa if kappa != 1.0 else c_last

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_seq, grad_c):  # type: ignore[override]
        weight_hh, masks, keep, gates, g, s, cell, h_seq = ctx.saved_tensors
        act, inner, kappa, a = ctx.act, ctx.inner, ctx.kappa, ctx.a
        steps, width, batch = gates.shape
        n = width // 4
        o, i, f, c_core = gates.unflatten(1, (4, n)).unbind(1)
        # factor: what turns the gradient at h (block o) or at the cell state (i, f, c)
        # into the gradient at the block's folded input, for every step at once.
        factor = torch.empty_like(gates)
        inner.folded_slope(gates[:, : 3 * n], out=factor[:, : 3 * n])
        factor_o, factor_i, factor_f, factor_c = factor.unflatten(1, (4, n)).unbind(1)
        if a == 1.0:  # d h / d o = act(c) = s
            factor_o.mul_(s)
        else:  # = 1 + a·s
            factor_o.addcmul_(factor_o, s, value=a)
        factor_i.mul_(g)
        factor_f.mul_(cell[:-1])
        # d G / d z_c = κ·m·core'(s_c), m the post's factor
        act.core_slope(c_core, factor_c).mul_(i)
        gain = kappa * (act.post[0] if act.post is not None else 1.0)
        if gain != 1.0:
            factor_c.mul_(gain)
        to_cell = act.core_slope(s, None).mul_(o)  # d S += d h · to_cell
        if a != 1.0:
            to_cell.mul_(a)
        forget, skipped = f, None
        if keep is not None:  # a masked step computes nothing and passes the states on
            factor.mul_(keep)
            to_cell.mul_(keep)
            forget = torch.where(keep, f, torch.ones_like(f))
            skipped = (~keep).to(gates.dtype)
        # The gradient at each h, indexed as h_seq: t + 1 for step t's output.
        grad_h = torch.empty_like(h_seq)
        grad_h[0].zero_()
        grad_h[1:].view(-1, batch).copy_(grad_seq.reshape(batch, -1).t())  # a 2-D transpose
        d_cell = grad_c.t().clone(memory_format=torch.contiguous_format)
        if kappa != 1.0:
            d_cell.div_(kappa)
        per_gate = masks is not None and masks.shape[0] > 1
        if per_gate:
            back = weight_hh.view(4, n, n).transpose(1, 2).contiguous()
            scratch = gates.new_empty(4, n, batch)
        else:
            back = weight_hh.t().contiguous()
            scratch = None if masks is None else gates.new_empty(n, batch)
        columns = zip(
            factor.unbind(0),
            factor[:, n:].unflatten(1, (3, n)).unbind(0),
            factor_o.unbind(0),
            to_cell.unbind(0),
            forget.unbind(0),
            grad_h.unbind(0)[1:],
            grad_h.unbind(0)[:-1],
            skipped.unbind(0) if skipped is not None else [None] * steps,
            strict=True,
        )
        for grad, grad_ifc, grad_o, to_c, f_t, dh, base, skip in reversed(list(columns)):
            d_cell.addcmul_(dh, to_c)
            grad_ifc.mul_(d_cell)
            grad_o.mul_(dh)
            d_cell.mul_(f_t)
            if skip is not None:  # a masked step hands its h gradient back unchanged
                base.addcmul_(dh, skip)
            if masks is None:
                base.addmm_(back, grad)
            elif per_gate:
                at_h = torch.bmm(back, grad.view(4, n, batch), out=scratch).mul_(masks)
                base.add_(at_h.sum(0))
            else:
                base.addcmul_(torch.mm(back, grad, out=scratch), masks[0])
        needs, folding = ctx.needs_input_grad, ctx.folding
        by_feature = _by_feature(factor)  # the gradients at the gates' folded inputs
        grad_hh = None
        if needs[3]:  # each block's gradient times the h it multiplied, (n, t·b)
            before = h_seq[:-1].transpose(0, 1)  # (n, t, b)
            if masks is None:
                grad_hh = by_feature.mm(before.reshape(n, -1).t())
            else:  # h times the block's mask, recomputed
                grad_hh, masked = torch.empty_like(weight_hh), before.new_empty(before.shape)
                k = len(masks)
                for block, mask, out in zip(
                    by_feature.chunk(k), masks, grad_hh.chunk(k), strict=True
                ):
                    torch.mul(before, mask.unsqueeze(1), out=masked)
                    torch.mm(block, masked.view(n, -1).t(), out=out)
        grad_x, grad_ih, grad_bias = ctx.projection.backward(by_feature, needs[:3])
        grad_ih, grad_bias, grad_hh = (
            _reordered(folding.grad(w), _LSTM_BACK) for w in (grad_ih, grad_bias, grad_hh)
        )
        grad_h0, grad_c0 = grad_h[0].t(), d_cell.t()
        return (grad_x, grad_ih, grad_bias, grad_hh, grad_h0, grad_c0 * kappa, *[None] * 5)


# -- GRU (Keras 1: the reset gate before U_h) -------------------------------------------


def _split(weight: Tensor, masks: Tensor | None, n: int, first: int) -> tuple[_Product, ...]:
    """The recurrent products of the first ``first`` gate blocks and of the others."""
    masks = _feature_major(masks)
    per_block = masks is not None and masks.shape[0] > 1
    return (
        _Product(weight[: first * n], masks[:first] if per_block else masks),
        _Product(weight[first * n :], masks[first:] if per_block else masks),
    )


class _GRU(_Kernel):
    """Keras 1's GRU; gate blocks z, r, h."""

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, h0, masks_W, masks_U, keep, act, inner):  # type: ignore[override]
        n = weight_hh.shape[1]
        folding = _Folding([inner, inner, act], n, weight_hh)
        projected = _Kernel._start(ctx, x, weight_ih, bias, masks_W, folding)
        steps, _, batch = projected.shape
        weight_hh = folding.weight(weight_hh)
        zr_product, h_product = _split(weight_hh, masks_U, n, 2)
        inner_post, act_post = _post(inner, 1.0, x), _post(act, 1.0, x)
        gates = torch.empty_like(projected)  # z, r, hh after activation
        rh = x.new_empty(steps, n, batch)
        h_seq = _states(h0, steps)
        h = h_seq[0]
        inputs = _rows(projected, slice(0, 2 * n), slice(2 * n, None))
        blocks = _rows(gates, slice(0, 2 * n), slice(0, n), slice(n, 2 * n), slice(2 * n, None))
        columns = zip(inputs, blocks, rh, h_seq[1:], strict=True)
        for t, ((x_zr, x_h), (zr, z, r, hh), rh_t, h_t) in enumerate(columns):
            zr_product.forward(x_zr, h, zr)
            inner_post.apply(inner.core(zr, zr), zr)
            torch.mul(r, h, out=rh_t)
            h_product.forward(x_h, rh_t, hh)
            act_post.apply(act.core(hh, hh), hh)
            torch.lerp(hh, h, z, out=h_t)  # z*h + (1 - z)*hh
            if keep is not None:
                torch.where(keep[t], h_t, h, out=h_t)
            h = h_t
        ctx.save_for_backward(weight_hh, masks_U, keep, gates, rh, h_seq)
        ctx.act, ctx.inner = act, inner
        return (h_seq[1:].permute(2, 0, 1),)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_seq):  # type: ignore[override]
        weight_hh, masks_U, keep, gates, rh, h_seq = ctx.saved_tensors
        steps, width, _ = gates.shape
        n = width // 3
        zr_product, h_product = _split(weight_hh, masks_U, n, 2)
        z, r, hh = gates[:, :n], gates[:, n : 2 * n], gates[:, 2 * n :]
        h_prev = h_seq[:-1]
        slope = ctx.inner.folded_slope(gates[:, : 2 * n])
        to_hh = ctx.act.folded_slope(hh).mul_(1.0 - z)  # d(hh's input) = dh * to_hh
        to_z = slope[:, :n].mul_(h_prev - hh)  # d(z's input) = dh * to_z
        to_r = slope[:, n:].mul_(h_prev)  # d(r's input) = d(r*h) * to_r
        _masked(keep, to_hh, to_z)
        through_z = _passing(keep, z)
        grad_pre = torch.empty_like(gates)
        grad_h = _step_grads(grad_seq)
        dh = grad_h[-1]
        grads = _rows(grad_pre, slice(0, 2 * n), slice(0, n), slice(n, 2 * n), slice(2 * n, None))
        for t in range(steps - 1, -1, -1):
            grad_zr, grad_z, grad_r, grad_hh = grads[t]
            d_rh = h_product.backward(torch.mul(dh, to_hh[t], out=grad_hh), None)
            torch.mul(dh, to_z[t], out=grad_z)
            torch.mul(d_rh, to_r[t], out=grad_r)
            base = torch.addcmul(grad_h[t - 1], dh, through_z[t]) if t else dh * through_z[t]
            dh = zr_product.backward(grad_zr, base.addcmul_(d_rh, r[t]))
        grad_pre = _by_feature(grad_pre)
        weight_grad = None
        if ctx.needs_input_grad[3]:
            weight_grad = torch.cat(
                [
                    zr_product.weight_grad(grad_pre[: 2 * n], h_prev),
                    h_product.weight_grad(grad_pre[2 * n :], rh),
                ]
            )
        grads = _Kernel._finish(ctx, grad_pre, weight_grad)
        return (*grads, dh.t(), None, None, None, None, None)


# -- GRU (reset after U_h, with a recurrent bias) ---------------------------------------


class _GRUResetAfter(_Kernel):
    """Keras 2/3's (and torch's) GRU; gate blocks r, z, h."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x, weight_ih, bias, weight_hh, h0, recurrent_bias, masks_W, masks_U, keep, act, inner
    ):
        n = weight_hh.shape[1]
        folding = _Folding([inner, inner, act], n, weight_hh)
        projected = _Kernel._start(ctx, x, weight_ih, bias, masks_W, folding)
        steps = projected.shape[0]
        product = _Product(folding.weight(weight_hh), _feature_major(masks_U))
        bias_U = folding.bias(recurrent_bias, shifted=False).unsqueeze(1)
        inner_post, act_post = _post(inner, 1.0, x), _post(act, 1.0, x)
        recurrent = torch.empty_like(projected)  # U·h + bU
        gates = torch.empty_like(projected)  # r, z, hh after activation
        h_seq = _states(h0, steps)
        h = h_seq[0]
        inputs = _rows(projected, slice(0, 2 * n), slice(2 * n, None))
        parts = _rows(recurrent, slice(0, 2 * n), slice(2 * n, None))
        blocks = _rows(gates, slice(0, 2 * n), slice(0, n), slice(n, 2 * n), slice(2 * n, None))
        columns = zip(inputs, recurrent, parts, blocks, h_seq[1:], strict=True)
        for t, ((x_rz, x_h), u, (u_rz, u_h), (rz, r, z, hh), h_t) in enumerate(columns):
            product.forward(bias_U, h, u)
            torch.add(x_rz, u_rz, out=rz)
            inner_post.apply(inner.core(rz, rz), rz)
            torch.addcmul(x_h, r, u_h, out=hh)
            act_post.apply(act.core(hh, hh), hh)
            torch.lerp(hh, h, z, out=h_t)
            if keep is not None:
                torch.where(keep[t], h_t, h, out=h_t)
            h = h_t
        ctx.save_for_backward(product.weight, masks_U, keep, recurrent, gates, h_seq)
        ctx.act, ctx.inner = act, inner
        return (h_seq[1:].permute(2, 0, 1),)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_seq):  # type: ignore[override]
        weight_hh, masks_U, keep, recurrent, gates, h_seq = ctx.saved_tensors
        steps, width, _ = gates.shape
        n = width // 3
        product = _Product(weight_hh, _feature_major(masks_U))
        r, z, hh = gates[:, :n], gates[:, n : 2 * n], gates[:, 2 * n :]
        h_prev = h_seq[:-1]
        slope = ctx.inner.folded_slope(gates[:, : 2 * n])
        to_hh = ctx.act.folded_slope(hh).mul_(1.0 - z)  # d(hh's input) = dh * to_hh
        to_r = slope[:, :n].mul_(recurrent[:, 2 * n :])  # d(r's input) = d(hh's input) * to_r
        to_z = slope[:, n:].mul_(h_prev - hh)  # d(z's input) = dh * to_z
        _masked(keep, to_hh, to_z)
        through_z = _passing(keep, z)
        # Gradients at U·h + bU, (d r's input, d z's input, d hh's input * r), and at the
        # projection, which shares the first two blocks.
        grad_u, grad_pre = torch.empty_like(gates), torch.empty_like(gates)
        grads_u = _rows(grad_u, slice(0, n), slice(n, 2 * n), slice(2 * n, None))
        grads_hh = grad_pre[:, 2 * n :]
        grad_h = _step_grads(grad_seq)
        dh = grad_h[-1]
        for t in range(steps - 1, -1, -1):
            grad_r, grad_z, grad_rh = grads_u[t]
            d_hh = torch.mul(dh, to_hh[t], out=grads_hh[t])
            torch.mul(d_hh, to_r[t], out=grad_r)
            torch.mul(dh, to_z[t], out=grad_z)
            torch.mul(d_hh, r[t], out=grad_rh)
            base = torch.addcmul(grad_h[t - 1], dh, through_z[t]) if t else dh * through_z[t]
            dh = product.backward(grad_u[t], base)
        grad_pre[:, : 2 * n] = grad_u[:, : 2 * n]
        grad_u = _by_feature(grad_u)
        needs, folding = ctx.needs_input_grad, ctx.folding
        weight_grad = product.weight_grad(grad_u, h_prev) if needs[3] else None
        grads = _Kernel._finish(ctx, _by_feature(grad_pre), weight_grad)
        grad_bias_U = folding.grad(grad_u.sum(1)) if needs[5] else None
        return (*grads, dh.t(), grad_bias_U, None, None, None, None, None)


# -- SimpleRNN --------------------------------------------------------------------------


class _SimpleRNN(_Kernel):
    """Keras 1's fully connected recurrence."""

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, h0, masks_W, masks_U, keep, act):  # type: ignore[override]
        folding = _Folding([act], weight_hh.shape[1], weight_hh)
        projected = _Kernel._start(ctx, x, weight_ih, bias, masks_W, folding)
        product = _Product(folding.weight(weight_hh), _feature_major(masks_U))
        act_post = _post(act, 1.0, x)
        h_seq = _states(h0, projected.shape[0])
        h = h_seq[0]
        for t, (x_t, h_t) in enumerate(zip(projected, h_seq[1:], strict=True)):
            act_post.apply(act.core(product.forward(x_t, h, h_t), h_t), h_t)
            if keep is not None:
                torch.where(keep[t], h_t, h, out=h_t)
            h = h_t
        ctx.save_for_backward(product.weight, masks_U, keep, h_seq)
        ctx.act = act
        return (h_seq[1:].permute(2, 0, 1),)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_seq):  # type: ignore[override]
        weight_hh, masks_U, keep, h_seq = ctx.saved_tensors
        product = _Product(weight_hh, _feature_major(masks_U))
        # Masked steps' values are not the activation's: their slopes are zeroed below.
        slope = ctx.act.folded_slope(h_seq[1:])
        _masked(keep, slope)
        skipped = None if keep is None else (~keep).to(slope.dtype)
        grad_pre = torch.empty_like(slope)
        grad_h = _step_grads(grad_seq)
        dh = grad_h[-1]
        for t in range(slope.shape[0] - 1, -1, -1):
            torch.mul(dh, slope[t], out=grad_pre[t])
            base = grad_h[t - 1] if t else None
            if skipped is not None:
                base = dh * skipped[t] if base is None else torch.addcmul(base, dh, skipped[t])
            dh = product.backward(grad_pre[t], base)
        grad_pre = _by_feature(grad_pre)
        weight_grad = product.weight_grad(grad_pre, h_seq[:-1]) if ctx.needs_input_grad[3] else None
        grads = _Kernel._finish(ctx, grad_pre, weight_grad)
        return (*grads, dh.t(), None, None, None, None)


# -- entry point ------------------------------------------------------------------------

_CELLS = {"lstm": _LSTM, "gru": _GRU, "gru_reset_after": _GRUResetAfter, "simple_rnn": _SimpleRNN}


def run(
    cell: str,
    x: Tensor,
    weights: list[Tensor],
    initial: list[Tensor],
    masks_W: Tensor | None,
    masks_U: Tensor | None,
    mask: Tensor | None,
    names: list[str],
) -> tuple[Tensor, list[Tensor]]:
    """Run one cell's kernel over ``x`` (b, t, d): every step's h (b, t, n) and the
    final states.

    ``cell``: 'lstm', 'gru', 'gru_reset_after' or 'simple_rnn'; ``weights``: weight_ih,
    bias, weight_hh (and the recurrent bias for 'gru_reset_after'), in the layers'
    layout; ``initial``: the initial states, (b, n) each; ``mask``: Keras's (b, t) mask or
    None; ``masks_W``/``masks_U``: Keras 1's dropout masks, (k, b, d)/(k, b, n), k = 1 or
    the number of gate blocks; ``names``: the activation's name (see ``activation``), then
    inner_activation's.
    """
    weight_ih, bias, weight_hh, *extra = weights
    dtype = weight_hh.dtype
    table = _ON_CPU if weight_hh.device.type == "cpu" else _BY_NAME
    functions = [table[name] for name in names]
    keep = None if mask is None else mask.t().unsqueeze(1)  # (t, 1, b)
    x, initial = x.to(dtype), [s.to(dtype) for s in initial]
    with torch.autocast(x.device.type, enabled=False):  # the weights' dtype throughout
        outputs = _CELLS[cell].apply(
            x, weight_ih, bias, weight_hh, *initial, *extra, masks_W, masks_U, keep, *functions
        )
    sequence = outputs[0]
    finals = [sequence[:, -1], *outputs[1:]]
    return sequence, finals
