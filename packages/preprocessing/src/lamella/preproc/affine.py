"""Affine matrices and the batched nearest-neighbour warp behind image augmentation.

Keras 1 resampled every channel of every image with ``scipy.ndimage.affine_transform``
(order 0).  Here each image of a batch gets its own 3x3 matrix and the whole batch is
resampled by one torch gather, so augmentation costs a handful of vectorised tensor
operations per batch instead of a Python call per channel.

Matrices use scipy's "pull" convention in homogeneous ``(row, col, 1)`` pixel
coordinates: they map an *output* pixel to the *input* position it reads from.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike

FILL_MODES = ("constant", "nearest", "reflect", "wrap")

# How far (in pixels) a sampling position may stray outside the image before
# 'constant' mode fills it with cval: absorbs round-off such as cos(pi/2) != 0.
_EDGE_TOLERANCE = 1e-6
# Where affine_matrices puts a, b, c, d, tx, ty.
_AFFINE_SLOTS = ((0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (1, 2))


def check_fill_mode(fill_mode: str, where: str) -> None:
    """Reject an unknown fill mode early, before any image is warped."""
    if fill_mode not in FILL_MODES:
        raise ValueError(f"{where}: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")


def affine_matrices(
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike,
    d: ArrayLike,
    tx: ArrayLike = 0.0,
    ty: ArrayLike = 0.0,
) -> np.ndarray:
    """Stack ``[[a, b, tx], [c, d, ty], [0, 0, 1]]`` for broadcastable entries into (n, 3, 3)."""
    entries = [np.asarray(v, dtype=np.float64) for v in (a, b, c, d, tx, ty)]
    shape = np.broadcast_shapes((1,), *(e.shape for e in entries))
    out = np.zeros((*shape, 3, 3))
    for (row, col), entry in zip(_AFFINE_SLOTS, entries, strict=True):
        out[..., row, col] = entry
    out[..., 2, 2] = 1.0
    return out


def rotation_matrices(theta: ArrayLike) -> np.ndarray:
    """Rotations by ``theta`` radians; a positive angle turns the picture clockwise on screen."""
    cos, sin = np.cos(theta), np.sin(theta)
    return affine_matrices(cos, -sin, sin, cos)


def translation_matrices(tx: ArrayLike, ty: ArrayLike) -> np.ndarray:
    """Shifts by ``tx`` rows and ``ty`` columns (of the sampling position)."""
    return affine_matrices(1.0, 0.0, 0.0, 1.0, tx, ty)


def shear_matrices(shear: ArrayLike) -> np.ndarray:
    """Shears by ``shear`` radians, Keras's parametrisation."""
    return affine_matrices(1.0, -np.sin(shear), 0.0, np.cos(shear))


def zoom_matrices(zx: ArrayLike, zy: ArrayLike) -> np.ndarray:
    """Scalings of the sampling position by ``zx`` along rows and ``zy`` along columns."""
    return affine_matrices(zx, 0.0, 0.0, zy)


def transform_matrix_offset_center(matrix: ArrayLike, x: int, y: int) -> np.ndarray:
    """Conjugate ``matrix`` (3x3 or a stack of them) so it acts about the centre of an x-by-y image.

    The centre is the true pixel centre ``((x - 1) / 2, (y - 1) / 2)``; Keras 1 used
    ``x / 2 + 0.5``, one pixel off, so its 90 degree rotations were not exact.
    """
    o_x, o_y = (float(x) - 1.0) / 2.0, (float(y) - 1.0) / 2.0
    offset = translation_matrices(o_x, o_y)[0]
    reset = translation_matrices(-o_x, -o_y)[0]
    return offset @ np.asarray(matrix, dtype=np.float64) @ reset


def _extend(position: torch.Tensor, length: int, fill_mode: str) -> torch.Tensor:
    """Fold whole-pixel positions (float) back into ``[0, length)`` as scipy.ndimage's mode does.

    'reflect' is scipy's half-sample symmetric extension (d c b a | a b c d | d c b a,
    ``np.pad`` 'symmetric'); 'wrap' tiles the image (a b c d | a b c d, ``np.pad`` 'wrap',
    scipy's 'grid-wrap'); 'nearest' repeats the edge; 'constant' is masked by the caller.
    Float arithmetic on whole numbers is exact here and much faster than integer remainders.
    """
    if fill_mode == "reflect":
        period = 2 * length
        folded = position - torch.floor(position / period) * period
        middle = length - 0.5  # [0, 2 length) -> [0, length) mirrored about the edge
        return (folded - middle).abs_().neg_().add_(middle)
    if fill_mode == "wrap":
        return position - torch.floor(position / length) * length
    return position.clamp_(0, length - 1)


def warp_batch(
    x: np.ndarray,
    matrices: np.ndarray,
    channel_axis: int,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Resample each image of a batch through its own matrix, nearest neighbour (Keras's order 0).

    ``x`` is (n, c, h, w) when ``channel_axis`` is 1 and (n, h, w, c) when it is 3;
    ``matrices`` is (n, 3, 3).  Each output pixel reads the input pixel nearest to its
    mapped position (rounding halves up, as scipy does); positions outside the image
    follow ``fill_mode``.  The result has the dtype of ``x``.
    """
    if channel_axis not in (1, 3):
        raise ValueError(f"warp_batch: channel_axis must be 1 or 3, got {channel_axis!r}")
    check_fill_mode(fill_mode, "warp_batch")
    if x.ndim != 4:
        raise ValueError(f"warp_batch: x must be a rank-4 batch of images, got shape {x.shape}")
    n = x.shape[0]
    height, width = (x.shape[2], x.shape[3]) if channel_axis == 1 else (x.shape[1], x.shape[2])
    m = torch.from_numpy(np.asarray(matrices, dtype=np.float64).reshape(n, 3, 3))
    rows = torch.arange(height, dtype=torch.float64).view(1, height, 1)
    cols = torch.arange(width, dtype=torch.float64).view(1, 1, width)

    def source(k: int) -> torch.Tensor:
        """Source rows (k=0) or columns (k=1), (n, h, w); the small (n, h, 1) part first."""
        along_rows, along_cols, offset = (m[:, k, j].view(n, 1, 1) for j in range(3))
        return (along_rows * rows + offset) + along_cols * cols

    src_row, src_col = source(0), source(1)
    outside = None
    if fill_mode == "constant":
        half_h, half_w = (height - 1) / 2, (width - 1) / 2
        outside = ((src_row - half_h).abs_() > half_h + _EDGE_TOLERANCE) | (
            (src_col - half_w).abs_() > half_w + _EDGE_TOLERANCE
        )
    row = _extend(src_row.add_(0.5).floor_(), height, fill_mode)
    col = _extend(src_col.add_(0.5).floor_(), width, fill_mode)
    pixel = row.mul_(width).add_(col).view(n, height * width)

    images = torch.from_numpy(np.ascontiguousarray(x))
    if channel_axis == 1:  # gather along each (image, channel) plane
        planes = images.view(n, -1, height * width)
        index = pixel.long().unsqueeze(1).expand(-1, planes.shape[1], -1)
        out = planes.gather(2, index).view(x.shape)
    else:  # a pixel's channels are one contiguous row: select whole rows
        first_pixel = torch.arange(n, dtype=torch.float64).view(n, 1) * (height * width)
        index = pixel.add_(first_pixel).view(-1).long()
        out = images.view(n * height * width, -1).index_select(0, index).view(x.shape)

    if outside is not None:
        out = out.masked_fill(outside.unsqueeze(1 if channel_axis == 1 else 3), cval)
    return out.numpy()


def apply_transform(
    x: ArrayLike,
    transform_matrix: ArrayLike,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Warp one rank-3 image; its two non-channel axes are (row, col) in that order."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"apply_transform: x must be a rank-3 image, got shape {x.shape}")
    if channel_axis not in (0, 1, 2, -1, -2, -3):
        raise ValueError(
            f"apply_transform: channel_axis must be an axis of a rank-3 image, got {channel_axis!r}"
        )
    batch = np.moveaxis(x, channel_axis, 0)[None]
    out = warp_batch(batch, np.asarray(transform_matrix)[None], 1, fill_mode, cval)
    return np.moveaxis(out[0], 0, channel_axis)
