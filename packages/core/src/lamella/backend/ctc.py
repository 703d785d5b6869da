"""Keras 1's connectionist temporal classification (CTC) functions.

Keras's conventions throughout: ``y_pred`` is a softmax output ``(samples, time, classes)``
whose LAST class is the blank, and it is read as ``log(y_pred + 1e-8)``; labels are dense
``(samples, max_label_length)`` class indices, of which each row's first ``label_length``
count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lamella.backend.ops import TensorLike, _tensor

__all__ = ["ctc_batch_cost", "ctc_decode", "ctc_label_dense_to_sparse"]

_FLOOR = 1e-8  # added to probabilities before the log, as Keras does


def _lengths(
    fn: str, arg: str, lengths: Any, batch: int, limit: int, like: torch.Tensor
) -> torch.Tensor:
    """Per-sample int64 lengths from ``(samples,)`` or ``(samples, 1)``, checked to lie in
    ``[0, limit]``; floats are truncated (Keras code often feeds lengths as floatx arrays)."""
    lengths = _tensor(fn, lengths, like=like)
    if (
        lengths.numel() != batch
        or (lengths.ndim == 2 and lengths.shape[1] != 1)
        or lengths.ndim > 2
    ):
        raise ValueError(
            f"{fn}: {arg} must have shape (samples, 1) or (samples,) with {batch} samples, got "
            f"{tuple(lengths.shape)}"
        )
    lengths = lengths.reshape(batch).long().to(like.device)
    if batch and (int(lengths.min()) < 0 or int(lengths.max()) > limit):
        raise ValueError(
            f"{fn}: {arg} must lie in [0, {limit}], got values from {int(lengths.min())} to "
            f"{int(lengths.max())}"
        )
    return lengths


def _predictions(fn: str, y_pred: Any) -> torch.Tensor:
    """``y_pred`` checked, and widened from 16-bit floats: in float16 the ``1e-8`` floor
    would round to 0 and its log to -inf."""
    y_pred = _tensor(fn, y_pred)
    if y_pred.ndim != 3 or y_pred.shape[2] < 1 or not y_pred.is_floating_point():
        raise ValueError(
            f"{fn}: y_pred must be a floating (samples, time, classes) tensor, got shape "
            f"{tuple(y_pred.shape)} and dtype {y_pred.dtype}"
        )
    return y_pred.float() if y_pred.dtype in (torch.float16, torch.bfloat16) else y_pred


def ctc_label_dense_to_sparse(labels: TensorLike, label_lengths: TensorLike) -> torch.Tensor:
    """The first ``label_lengths[i]`` labels of each row of ``labels`` as a sparse COO tensor
    of ``labels``'s shape (TensorFlow's SparseTensor); :func:`to_dense` turns it back, with
    zeros past each length."""
    fn = "ctc_label_dense_to_sparse"
    labels = _tensor(fn, labels)
    if labels.ndim != 2:
        raise ValueError(f"{fn}: labels must be 2D (samples, length), got {tuple(labels.shape)}")
    lengths = _lengths(fn, "label_lengths", label_lengths, labels.shape[0], labels.shape[1], labels)
    positions = torch.arange(labels.shape[1], device=labels.device)
    kept = positions.unsqueeze(0) < lengths.unsqueeze(1)
    indices = kept.nonzero().t()
    # nonzero() lists the indices in order and once each: a valid, coalesced tensor.
    return torch.sparse_coo_tensor(
        indices, labels[kept], labels.shape, is_coalesced=True, check_invariants=False
    )


def ctc_batch_cost(
    y_true: TensorLike, y_pred: TensorLike, input_length: TensorLike, label_length: TensorLike
) -> torch.Tensor:
    """The CTC loss (negative log-likelihood) of each sample, shape ``(samples, 1)``.

    ``y_true`` is ``(samples, max_label_length)`` (floats are accepted and truncated; entries
    past ``label_length`` are ignored), ``y_pred`` the softmax ``(samples, time, classes)``,
    ``input_length`` and ``label_length`` ``(samples, 1)``. A label that cannot fit in its
    input gives ``inf``. Differentiable in ``y_pred``.
    """
    fn = "ctc_batch_cost"
    y_pred = _predictions(fn, y_pred)
    batch, steps, classes = y_pred.shape
    labels = _tensor(fn, y_true, like=y_pred)
    if labels.ndim != 2 or labels.shape[0] != batch:
        raise ValueError(
            f"{fn}: y_true must be (samples, max_label_length) with {batch} samples, got "
            f"{tuple(labels.shape)}"
        )
    input_length = _lengths(fn, "input_length", input_length, batch, steps, y_pred)
    label_length = _lengths(fn, "label_length", label_length, batch, labels.shape[1], y_pred)
    labels = labels.long().to(y_pred.device)
    counted = torch.arange(labels.shape[1], device=labels.device) < label_length.unsqueeze(1)
    bad = counted & ((labels < 0) | (labels >= classes - 1))
    if bool(bad.any()):
        raise ValueError(
            f"{fn}: labels must be classes 0 to {classes - 2} (class {classes - 1}, the last, is "
            f"the blank); got {labels[bad].unique().tolist()}"
        )
    labels = torch.where(counted, labels, torch.zeros_like(labels))

    log_probs = torch.log(y_pred + _FLOOR).transpose(0, 1)  # (time, samples, classes)
    # torch's CTC gradient is exact only for log-probabilities that are normalised per step,
    # so normalise them and subtract the normalisers of the counted steps: the same value.
    norms = torch.logsumexp(log_probs, dim=2)
    in_time = torch.arange(steps, device=y_pred.device).unsqueeze(1) < input_length.unsqueeze(0)
    taken = torch.sum(torch.where(in_time, norms, torch.zeros_like(norms)), dim=0)
    loss = F.ctc_loss(
        log_probs - norms.unsqueeze(2),
        labels,
        input_length,
        label_length,
        blank=classes - 1,
        reduction="none",
    )
    return (loss - taken).unsqueeze(1)


def _dense(sequences: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
    """Sequences as rows of an int64 matrix padded with -1, as wide as the longest."""
    width = max((len(s) for s in sequences), default=0)
    out = torch.full((len(sequences), width), -1, dtype=torch.int64)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.int64)
    return out.to(device)


def _greedy(log_probs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best path: the likeliest class per step, repeats merged, blanks dropped."""
    batch, steps, classes = log_probs.shape
    best_scores, best = log_probs.max(dim=2)
    in_time = torch.arange(steps, device=log_probs.device).unsqueeze(0) < lengths.unsqueeze(1)
    start = torch.full((batch, 1), -1, dtype=best.dtype, device=best.device)
    previous = torch.cat([start, best], dim=1)[:, :steps]
    kept = in_time & (best != classes - 1) & (best != previous)
    counts = kept.sum(dim=1)
    width = int(counts.max()) if batch else 0
    decoded = torch.full((batch, width), -1, dtype=torch.int64, device=log_probs.device)
    rows = torch.arange(batch, device=log_probs.device).unsqueeze(1).expand_as(kept)
    decoded[rows[kept], (torch.cumsum(kept, dim=1) - 1)[kept]] = best[kept]
    score = -torch.sum(torch.where(in_time, best_scores, torch.zeros_like(best_scores)), dim=1)
    return decoded, score.unsqueeze(1)


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


_BLANK_END, _LABEL_END = 0, 1  # a beam's two log-probabilities: paths ending in a blank or not


def _add(
    beams: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], slot: int, value: float
) -> None:
    """Add the probability ``exp(value)`` to ``beams[prefix][slot]``, in log space."""
    entry = beams.setdefault(prefix, [-math.inf, -math.inf])
    entry[slot] = _logaddexp(entry[slot], value)


def _beam_search(
    log_probs: np.ndarray, beam_width: int, top_paths: int
) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search over ``(time, classes)`` log-probabilities (blank last).

    Each beam is a label prefix with the log-probability of all paths that collapse to it,
    split by whether the path ends in a blank; the ``beam_width`` likeliest prefixes survive
    each step. Returns the ``top_paths`` best ``(labels, log_probability)``.
    """
    blank = log_probs.shape[1] - 1
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for step in log_probs.tolist():
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (with_blank, without_blank) in beams.items():
            total = _logaddexp(with_blank, without_blank)
            _add(grown, prefix, _BLANK_END, total + step[blank])
            last = prefix[-1] if prefix else None
            if last is not None:
                # A repeat of the last label with no blank between merges into it.
                _add(grown, prefix, _LABEL_END, without_blank + step[last])
            for label in range(blank):
                # After a non-blank `last`, the same label needs a blank between to count.
                source = with_blank if label == last else total
                _add(grown, (*prefix, label), _LABEL_END, source + step[label])
        ranked = sorted(grown.items(), key=lambda kv: _logaddexp(*kv[1]), reverse=True)
        beams = {prefix: (pb, pnb) for prefix, (pb, pnb) in ranked[:beam_width]}
    ranked = sorted(
        ((prefix, _logaddexp(pb, pnb)) for prefix, (pb, pnb) in beams.items()),
        key=lambda item: item[1],
        reverse=True,
    )
    ranked += [((), -math.inf)] * (top_paths - len(ranked))
    return ranked[:top_paths]


def ctc_decode(
    y_pred: TensorLike,
    input_length: TensorLike,
    greedy: bool = True,
    beam_width: int = 100,
    top_paths: int = 1,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Decode a softmax ``(samples, time, classes)`` into label sequences.

    Returns ``(decoded, scores)``: ``decoded`` is a list of int64 ``(samples, longest)``
    matrices padded with -1 (one for greedy, ``top_paths`` best first for beam search). For
    greedy decoding ``scores`` is ``(samples, 1)`` and holds, as TensorFlow's greedy decoder
    does, the negative sum over steps of the best ``log(y_pred + 1e-8)``; for beam search it
    is ``(samples, top_paths)`` log-probabilities of the decoded sequences. ``input_length`` is
    ``(samples,)`` or ``(samples, 1)``. Not differentiable, as in Keras.
    """
    fn = "ctc_decode"
    y_pred = _predictions(fn, y_pred).detach()
    batch, steps, _ = y_pred.shape
    lengths = _lengths(fn, "input_length", input_length, batch, steps, y_pred)
    log_probs = torch.log(y_pred + _FLOOR)
    if greedy:
        decoded, scores = _greedy(log_probs, lengths)
        return [decoded], scores
    for arg, value in (("beam_width", beam_width), ("top_paths", top_paths)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{fn}: {arg} must be a positive int, got {value!r}")
    if top_paths > beam_width:
        raise ValueError(f"{fn}: top_paths ({top_paths}) must not exceed beam_width ({beam_width})")
    host = log_probs.cpu().double().numpy()
    results = [
        _beam_search(host[b, : int(lengths[b])], beam_width, top_paths) for b in range(batch)
    ]
    decoded = [
        _dense([results[b][k][0] for b in range(batch)], y_pred.device) for k in range(top_paths)
    ]
    scores = torch.tensor(
        [[score for _, score in result] for result in results],
        dtype=y_pred.dtype,
        device=y_pred.device,
    ).reshape(batch, top_paths)
    return decoded, scores
