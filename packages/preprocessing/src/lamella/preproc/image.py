"""Real-time image augmentation with Keras 1's ImageDataGenerator API, a batch at a time.

Keras 1 transformed one image at a time with scipy; here a whole batch is drawn,
warped, shifted, flipped and standardised together (numpy for the draws and the
arithmetic, one torch gather for the warp), which is what makes it fast.  The
helpers Keras exposed next to the generator (``random_rotation``, ``apply_transform``,
``load_img`` ...) are here too, with Keras's signatures.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lamella.preproc.affine import (
    affine_matrices,
    apply_transform,
    check_fill_mode,
    rotation_matrices,
    shear_matrices,
    transform_matrix_offset_center,
    translation_matrices,
    warp_batch,
    zoom_matrices,
)
from lamella.preproc.iterators import (
    DirectoryIterator,
    Iterator,
    NumpyArrayIterator,
    make_rng,
)
from lamella.preproc.pictures import (
    CHANNEL_COUNTS,
    array_to_img,
    check_image_batch,
    img_to_array,
    list_pictures,
    load_img,
    resolve_dim_ordering,
)
from lamella.utils.arguments import check_int

__all__ = [
    "DirectoryIterator",
    "ImageDataGenerator",
    "Iterator",
    "NumpyArrayIterator",
    "Transforms",
    "apply_transform",
    "array_to_img",
    "flip_axis",
    "img_to_array",
    "list_pictures",
    "load_img",
    "random_channel_shift",
    "random_rotation",
    "random_shear",
    "random_shift",
    "random_zoom",
    "transform_matrix_offset_center",
]

#: Keras 1's fudge factor in the std divisions.
EPSILON = 1e-7
#: Added to the covariance eigenvalues before inverting them for ZCA (Keras 1's value).
ZCA_REGULARIZER = 1e-6
#: The largest ZCA covariance matrix fit() will build; raise it if you have the memory.
ZCA_MAX_BYTES = 2 * 1024**3
# Images per chunk when fit() augments or accumulates the covariance.
_FIT_CHUNK = 1024


def _zoom_pair(zoom_range: float | tuple[float, float], where: str) -> tuple[float, float]:
    """A zoom range as (lower, upper): a number z means (1 - z, 1 + z)."""
    if np.isscalar(zoom_range):
        return 1.0 - float(zoom_range), 1.0 + float(zoom_range)
    try:
        lower, upper = zoom_range
        return float(lower), float(upper)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: zoom_range must be a number or a (lower, upper) pair, got {zoom_range!r}"
        ) from None


def _as_image(
    x: ArrayLike, where: str, dtype: type | None = None, channel_axis: int | None = None
) -> np.ndarray:
    """``x`` as one rank-3 image array (a copy in ``dtype`` when one is given).

    With ``channel_axis``, that axis must hold 1, 3 or 4 channels.
    """
    x = np.asarray(x) if dtype is None else np.array(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(f"{where}: x must be a single rank-3 image, got shape {x.shape}")
    if channel_axis is not None and x.shape[channel_axis] not in CHANNEL_COUNTS:
        raise ValueError(
            f"{where}: x must have 1, 3 or 4 channels on axis {channel_axis}, got shape "
            f"{x.shape} ({x.shape[channel_axis]} channels); is dim_ordering right?"
        )
    return x


def flip_axis(x: ArrayLike, axis: int) -> np.ndarray:
    """``x`` reversed along ``axis`` (a view)."""
    return np.flip(np.asarray(x), axis)


def _shift_channels(x: np.ndarray, shifts: np.ndarray, channel_axis: int) -> np.ndarray:
    """Add per-image, per-channel offsets, clipped to each image's own value range (as Keras 1)."""
    lower = x.min(axis=(1, 2, 3), keepdims=True)
    upper = x.max(axis=(1, 2, 3), keepdims=True)
    shape = [len(x), 1, 1, 1]
    shape[channel_axis] = shifts.shape[1]
    return np.clip(x + shifts.reshape(shape).astype(x.dtype), lower, upper)


def _warp_about_centre(
    x: np.ndarray,
    matrix: np.ndarray,
    row_axis: int,
    col_axis: int,
    channel_axis: int,
    fill_mode: str,
    cval: float,
) -> np.ndarray:
    """Warp by ``matrix`` about the image centre, where Keras turns, shears and zooms."""
    centred = transform_matrix_offset_center(matrix, x.shape[row_axis], x.shape[col_axis])
    return apply_transform(x, centred, channel_axis, fill_mode, cval)


def random_rotation(
    x: ArrayLike,
    rg: float,
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Rotate one image by a uniform angle in [-rg, rg] degrees (numpy's global generator)."""
    x = _as_image(x, "random_rotation")
    theta = np.deg2rad(np.random.uniform(-rg, rg))
    matrix = rotation_matrices(theta)[0]
    return _warp_about_centre(x, matrix, row_axis, col_axis, channel_axis, fill_mode, cval)


def random_shift(
    x: ArrayLike,
    wrg: float,
    hrg: float,
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Shift one image by uniform fractions of its height (hrg) and width (wrg)."""
    x = _as_image(x, "random_shift")
    tx = np.random.uniform(-hrg, hrg) * x.shape[row_axis]
    ty = np.random.uniform(-wrg, wrg) * x.shape[col_axis]
    return apply_transform(x, translation_matrices(tx, ty)[0], channel_axis, fill_mode, cval)


def random_shear(
    x: ArrayLike,
    intensity: float,
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Shear one image by a uniform angle in [-intensity, intensity] radians."""
    x = _as_image(x, "random_shear")
    matrix = shear_matrices(np.random.uniform(-intensity, intensity))[0]
    return _warp_about_centre(x, matrix, row_axis, col_axis, channel_axis, fill_mode, cval)


def random_zoom(
    x: ArrayLike,
    zoom_range: tuple[float, float],
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
) -> np.ndarray:
    """Zoom one image by factors drawn independently for rows and columns from ``zoom_range``."""
    x = _as_image(x, "random_zoom")
    if np.isscalar(zoom_range):
        raise ValueError(
            f"random_zoom: zoom_range must be a (lower, upper) pair, got {zoom_range!r}"
        )
    lower, upper = _zoom_pair(zoom_range, "random_zoom")
    zx, zy = (1.0, 1.0) if lower == upper == 1 else np.random.uniform(lower, upper, 2)
    matrix = zoom_matrices(zx, zy)[0]
    return _warp_about_centre(x, matrix, row_axis, col_axis, channel_axis, fill_mode, cval)


def random_channel_shift(x: ArrayLike, intensity: float, channel_axis: int = 0) -> np.ndarray:
    """Add a uniform offset in [-intensity, intensity] to each channel, within the image's range."""
    x = _as_image(x, "random_channel_shift")
    channel_axis %= 3
    shifts = np.random.uniform(-intensity, intensity, (1, x.shape[channel_axis]))
    return _shift_channels(x[None], shifts, channel_axis + 1)[0]


@dataclass
class Transforms:
    """The random draws for one batch, made by ``draw_transforms`` for ``apply_transforms``.

    ``matrices`` (n, 3, 3) already act about the image centre and include the flips;
    ``channel_shifts`` is (n, channels).  None means "nothing to do".
    """

    matrices: np.ndarray | None = None
    channel_shifts: np.ndarray | None = None


class ImageDataGenerator:
    """Batches of augmented, standardised images from arrays or directories (Keras 1 API).

    Per image, in Keras's order: one affine warp (rotation, shift, shear and zoom composed
    about the image centre, nearest neighbour, positions outside filled by ``fill_mode``),
    a channel shift, random flips; then ``standardize``: preprocessing_function, rescale,
    samplewise centre/std, featurewise centre/std, ZCA.
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        rotation_range: float = 0.0,
        width_shift_range: float = 0.0,
        height_shift_range: float = 0.0,
        shear_range: float = 0.0,
        zoom_range: float | tuple[float, float] = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable[[np.ndarray], np.ndarray] | None = None,
        dim_ordering: str = "default",
    ) -> None:
        self.dim_ordering = resolve_dim_ordering(dim_ordering, "ImageDataGenerator")
        check_fill_mode(fill_mode, "ImageDataGenerator")
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.zoom_range = list(_zoom_pair(zoom_range, "ImageDataGenerator"))
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        if self.dim_ordering == "th":
            self.channel_index, self.row_index, self.col_index = 1, 2, 3
        else:
            self.channel_index, self.row_index, self.col_index = 3, 1, 2
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.principal_components: np.ndarray | None = None

    def flow(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "jpeg",
    ) -> NumpyArrayIterator:
        """An endless iterator of augmented batches of ``X`` (and ``y``)."""
        return NumpyArrayIterator(
            X,
            y,
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            dim_ordering=self.dim_ordering,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
        )

    def flow_from_directory(
        self,
        directory: str | os.PathLike[str],
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        classes: list[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "jpeg",
        follow_links: bool = False,
    ) -> DirectoryIterator:
        """An endless iterator of augmented batches read from one sub-directory per class."""
        return DirectoryIterator(
            directory,
            self,
            target_size=target_size,
            color_mode=color_mode,
            dim_ordering=self.dim_ordering,
            classes=classes,
            class_mode=class_mode,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
            follow_links=follow_links,
        )

    def _warps(self) -> bool:
        return bool(
            self.rotation_range
            or self.width_shift_range
            or self.height_shift_range
            or self.shear_range
            or self.zoom_range != [1.0, 1.0]
        )

    def draw_transforms(
        self, size: int, image_shape: tuple[int, ...], rng: np.random.RandomState | None = None
    ) -> Transforms:
        """Draw random transforms for ``size`` images of ``image_shape`` (no batch axis).

        Only the enabled options consume random numbers.  ``rng`` defaults to numpy's
        global generator.  Flips are folded into the warp: flipping the warped image is
        the same as reading it through the mirrored grid, and a flip commutes with the
        channel shift that Keras put between the two.
        """
        rng = make_rng(None) if rng is None else rng
        height = image_shape[self.row_index - 1]
        width = image_shape[self.col_index - 1]
        transforms = Transforms()
        if self._warps():

            def uniform(bound: float, scale: float = 1.0) -> np.ndarray:
                return rng.uniform(-bound, bound, size) * scale if bound else np.zeros(size)

            theta = np.deg2rad(uniform(self.rotation_range))
            tx = uniform(self.height_shift_range, height)
            ty = uniform(self.width_shift_range, width)
            shear = uniform(self.shear_range)
            if self.zoom_range == [1.0, 1.0]:
                zx = zy = np.ones(size)
            else:
                zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], (2, size))
            matrices = (
                rotation_matrices(theta)
                @ translation_matrices(tx, ty)
                @ shear_matrices(shear)
                @ zoom_matrices(zx, zy)
            )
            transforms.matrices = transform_matrix_offset_center(matrices, height, width)
        if self.channel_shift_range:
            channels = image_shape[self.channel_index - 1]
            bound = self.channel_shift_range
            transforms.channel_shifts = rng.uniform(-bound, bound, (size, channels))
        if self.horizontal_flip or self.vertical_flip:
            unflipped = np.zeros(size, dtype=bool)
            cols = rng.random_sample(size) < 0.5 if self.horizontal_flip else unflipped
            rows = rng.random_sample(size) < 0.5 if self.vertical_flip else unflipped
            flips = affine_matrices(
                np.where(rows, -1.0, 1.0),
                0.0,
                0.0,
                np.where(cols, -1.0, 1.0),
                np.where(rows, height - 1.0, 0.0),
                np.where(cols, width - 1.0, 0.0),
            )
            warp = transforms.matrices
            transforms.matrices = flips if warp is None else warp @ flips
        return transforms

    def apply_transforms(self, x: np.ndarray, transforms: Transforms) -> np.ndarray:
        """Warp (flips included) and channel-shift a float batch as drawn."""
        if transforms.matrices is not None:
            x = warp_batch(x, transforms.matrices, self.channel_index, self.fill_mode, self.cval)
        if transforms.channel_shifts is not None:
            x = _shift_channels(x, transforms.channel_shifts, self.channel_index)
        return x

    def random_transform(self, x: ArrayLike) -> np.ndarray:
        """One randomly transformed float32 copy of a single image (numpy's global generator)."""
        where = "ImageDataGenerator.random_transform"
        x = _as_image(x, where, np.float32, self.channel_index - 1)
        return self.apply_transforms(x[None], self.draw_transforms(1, x.shape))[0]

    def standardize_batch(self, x: np.ndarray) -> np.ndarray:
        """Normalise a float batch in Keras 1's order; ``x`` itself may be overwritten."""
        if self.preprocessing_function:
            for i in range(len(x)):
                x[i] = self.preprocessing_function(x[i])
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= x.mean(axis=self.channel_index, keepdims=True)
        if self.samplewise_std_normalization:
            x /= x.std(axis=self.channel_index, keepdims=True) + EPSILON
        for wanted, statistic, name in (
            (self.featurewise_center, self.mean, "featurewise_center"),
            (self.featurewise_std_normalization, self.std, "featurewise_std_normalization"),
            (self.zca_whitening, self.principal_components, "zca_whitening"),
        ):
            if wanted and statistic is None:
                warnings.warn(
                    f"ImageDataGenerator: {name} is on but the generator was never fit; "
                    "call .fit(x) on sample data first. Leaving that step out.",
                    stacklevel=2,
                )
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + EPSILON
        if self.zca_whitening and self.principal_components is not None:
            x = (x.reshape(len(x), -1) @ self.principal_components).reshape(x.shape)
        return x

    def standardize(self, x: ArrayLike) -> np.ndarray:
        """One image normalised as :meth:`standardize_batch` does (a float32 copy)."""
        where = "ImageDataGenerator.standardize"
        x = _as_image(x, where, np.float32, self.channel_index - 1)
        return self.standardize_batch(x[None])[0]

    def _augmented(self, x: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        out = np.empty_like(x)
        for start in range(0, len(x), _FIT_CHUNK):
            chunk = x[start : start + _FIT_CHUNK]
            drawn = self.draw_transforms(len(chunk), x.shape[1:], rng)
            out[start : start + len(chunk)] = self.apply_transforms(chunk, drawn)
        return out

    def fit(
        self, X: ArrayLike, augment: bool = False, rounds: int = 1, seed: int | None = None
    ) -> None:
        """Compute the featurewise mean/std and the ZCA matrix that ``standardize`` uses.

        With ``augment``, the statistics come from ``rounds`` randomly transformed copies
        of ``X`` (drawn from ``RandomState(seed)``, or numpy's global generator).
        """
        where = "ImageDataGenerator.fit"
        x = np.asarray(X)
        check_image_batch(x, self.channel_index, where, "X")
        rounds = check_int(where, "rounds", rounds)
        if self.zca_whitening:
            _check_zca_size(x.shape[1:], where)
        x = x.astype(np.float32)
        if augment:
            rng = make_rng(seed)
            x = np.concatenate([self._augmented(x, rng) for _ in range(rounds)])
        axes = (0, self.row_index, self.col_index)
        shape = [1, 1, 1]
        shape[self.channel_index - 1] = x.shape[self.channel_index]
        if self.featurewise_center:
            self.mean = x.mean(axis=axes, dtype=np.float64).astype(np.float32).reshape(shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = x.std(axis=axes, dtype=np.float64).astype(np.float32).reshape(shape)
            x /= self.std + EPSILON
        if self.zca_whitening:
            self.principal_components = _zca_matrix(x.reshape(len(x), -1))


def _check_zca_size(image_shape: tuple[int, ...], where: str) -> None:
    """Refuse a covariance matrix bigger than ZCA_MAX_BYTES before spending time on it."""
    features = math.prod(image_shape)
    needed = 8 * features * features
    if needed > ZCA_MAX_BYTES:
        raise ValueError(
            f"{where}: zca_whitening needs a {features}x{features} float64 covariance matrix "
            f"({needed / 2**30:.1f} GiB) for images of shape {tuple(image_shape)}, more than "
            f"ZCA_MAX_BYTES ({ZCA_MAX_BYTES / 2**30:.1f} GiB); use smaller images, turn "
            "zca_whitening off, or raise lamella.preproc.image.ZCA_MAX_BYTES"
        )


def _zca_matrix(flat: np.ndarray) -> np.ndarray:
    """U diag(1 / sqrt(s + 1e-6)) U^T for the (uncentred, as Keras) covariance U diag(s) U^T."""
    n, features = flat.shape
    sigma = np.zeros((features, features))
    for start in range(0, n, _FIT_CHUNK):
        chunk = flat[start : start + _FIT_CHUNK].astype(np.float64)
        sigma += chunk.T @ chunk
    sigma /= n
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)
    scale = 1.0 / np.sqrt(np.clip(eigenvalues, 0.0, None) + ZCA_REGULARIZER)
    return ((eigenvectors * scale) @ eigenvectors.T).astype(np.float32)
