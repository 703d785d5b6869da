"""The batched warp against numpy references: np.rot90, slicing of np.pad, np.flip."""

import numpy as np
import pytest

from lamella.preproc.affine import (
    apply_transform,
    rotation_matrices,
    shear_matrices,
    transform_matrix_offset_center,
    translation_matrices,
    warp_batch,
    zoom_matrices,
)
from lamella.preproc.image import ImageDataGenerator, flip_axis, random_channel_shift

# scipy.ndimage's fill modes written as np.pad modes: 'reflect' is scipy's half-sample
# symmetric extension (d c b a | a b c d), which np.pad calls 'symmetric'.
NP_PAD_MODE = {"nearest": "edge", "reflect": "symmetric", "wrap": "wrap", "constant": "constant"}
CVAL = -7.0


def shifted(image: np.ndarray, drow: int, dcol: int, fill_mode: str) -> np.ndarray:
    """out[r, c] = image[r + drow, c + dcol] for a (h, w) image, outside by np.pad's rule."""
    h, w = image.shape
    pad = max(abs(drow), abs(dcol))
    extra = {"constant_values": CVAL} if fill_mode == "constant" else {}
    padded = np.pad(image, pad, mode=NP_PAD_MODE[fill_mode], **extra)
    return padded[pad + drow : pad + drow + h, pad + dcol : pad + dcol + w]


class FixedRandom:
    """A RandomState stand-in: uniform() returns its upper bound, random_sample() a script."""

    def __init__(self, samples=()):
        self.samples = np.asarray(samples, dtype=float)

    def uniform(self, low, high, size):
        return np.broadcast_to(np.asarray(high, dtype=float), np.atleast_1d(size)).copy()

    def random_sample(self, size):
        return self.samples[:size]


def grid(shape) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
@pytest.mark.parametrize("size", [5, 6])
def test_rotation_by_90_degrees_is_rot90(fill_mode, size):
    image = grid((2, size, size))
    matrix = transform_matrix_offset_center(rotation_matrices(np.pi / 2)[0], size, size)
    out = apply_transform(image, matrix, channel_axis=0, fill_mode=fill_mode, cval=CVAL)
    np.testing.assert_array_equal(out, np.rot90(image, k=-1, axes=(1, 2)))


SHIFTS = [(0, 0), (2, -3), (-4, 1), (7, -9), (-11, 13)]


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
def test_whole_pixel_shifts_equal_slicing_with_each_fill_mode(fill_mode):
    """One batch, each image with its own shift: every image matches its own reference."""
    images = np.stack([grid((5, 6)) + 100 * k for k in range(len(SHIFTS))])[:, None]
    drow, dcol = np.array(SHIFTS, dtype=float).T
    out = warp_batch(images, translation_matrices(drow, dcol), 1, fill_mode, CVAL)
    for k, (dr, dc) in enumerate(SHIFTS):
        np.testing.assert_array_equal(out[k, 0], shifted(images[k, 0], dr, dc, fill_mode))


@pytest.mark.parametrize("channel_axis", [1, 3])
def test_each_image_of_a_batch_gets_its_own_rotation(channel_axis):
    """Quarter turns of a 5x5 batch, channels first or last, against np.rot90 per image."""
    images = grid((3, 2, 5, 5))
    turns = [1, 2, -1]  # clockwise quarter turns
    matrices = transform_matrix_offset_center(rotation_matrices(np.array(turns) * np.pi / 2), 5, 5)
    if channel_axis == 1:
        out = warp_batch(images, matrices, 1, "reflect")
    else:
        last = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        out = warp_batch(last, matrices, 3, "reflect").transpose(0, 3, 1, 2)
    for k, turn in enumerate(turns):
        np.testing.assert_array_equal(out[k], np.rot90(images[k], k=-turn, axes=(1, 2)))


def test_zoom_in_by_two_picks_the_central_pixels_nearest_neighbour():
    """Output (r, c) reads 1.5 + 0.5 (r - 1.5), rounded half up: rows/cols 1, 1, 2, 2."""
    image = grid((1, 4, 4))
    matrix = transform_matrix_offset_center(zoom_matrices(0.5, 0.5)[0], 4, 4)
    out = apply_transform(image, matrix, channel_axis=0)
    np.testing.assert_array_equal(out[0], image[0][np.ix_([1, 1, 2, 2], [1, 1, 2, 2])])


def test_constant_fill_uses_cval_and_keeps_integer_dtype():
    image = np.arange(9, dtype=np.uint8).reshape(1, 3, 3)
    out = apply_transform(image, translation_matrices(0, 2)[0], 0, "constant", cval=200)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], [[2, 200, 200], [5, 200, 200], [8, 200, 200]])


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
@pytest.mark.parametrize("dim_ordering", ["th", "tf"])
def test_generator_composes_rotation_then_shift_about_the_centre(dim_ordering, fill_mode):
    """Keras's order R . T . S . Z (pull): out(p) = rotated(p + t), with rotated = rot90."""
    generator = ImageDataGenerator(
        rotation_range=90,
        height_shift_range=0.4,
        width_shift_range=0.6,
        fill_mode=fill_mode,
        cval=CVAL,
        dim_ordering=dim_ordering,
    )
    image = grid((5, 5))
    expected = shifted(np.rot90(image, k=-1), 2, 3, fill_mode)  # 0.4 * 5 rows, 0.6 * 5 cols
    batch = image[None, None] if dim_ordering == "th" else image[None, :, :, None]
    drawn = generator.draw_transforms(1, batch.shape[1:], FixedRandom())
    out = generator.apply_transforms(batch.copy(), drawn)
    np.testing.assert_array_equal(out.reshape(5, 5), expected)


@pytest.mark.parametrize(
    ("dim_ordering", "flip", "axis"),
    [
        ("th", "horizontal_flip", 3),
        ("th", "vertical_flip", 2),
        ("tf", "horizontal_flip", 2),
        ("tf", "vertical_flip", 1),
    ],
)
def test_flips_follow_their_coin_and_equal_np_flip(dim_ordering, flip, axis):
    generator = ImageDataGenerator(dim_ordering=dim_ordering, **{flip: True})
    shape = (4, 3, 5, 6) if dim_ordering == "th" else (4, 5, 6, 3)
    batch = grid(shape)
    coins = [0.2, 0.7, 0.49, 0.5]  # flipped when below 0.5
    out = generator.apply_transforms(
        batch.copy(), generator.draw_transforms(4, shape[1:], FixedRandom(coins))
    )
    for k, coin in enumerate(coins):
        expected = np.flip(batch[k], axis - 1) if coin < 0.5 else batch[k]
        np.testing.assert_array_equal(out[k], expected)
    np.testing.assert_array_equal(flip_axis(batch, axis), np.flip(batch, axis))


def test_channel_shift_adds_per_channel_offsets_clipped_to_the_image_range():
    generator = ImageDataGenerator(channel_shift_range=3.0, dim_ordering="th")
    batch = grid((2, 3, 2, 2))
    out = generator.apply_transforms(
        batch.copy(), generator.draw_transforms(2, (3, 2, 2), FixedRandom())
    )
    for k in range(2):
        expected = np.clip(batch[k] + 3.0, batch[k].min(), batch[k].max())
        np.testing.assert_array_equal(out[k], expected)


def test_random_channel_shift_uses_the_global_generator():
    image = grid((2, 3, 3))
    np.random.seed(5)
    shifts = np.random.uniform(-10, 10, 2)
    np.random.seed(5)
    out = random_channel_shift(image, 10, channel_axis=0)
    for c in range(2):
        np.testing.assert_allclose(out[c], np.clip(image[c] + shifts[c], 0, 17), rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: warp_batch(np.zeros((2, 3, 3)), np.eye(3)[None], 1), "rank-4"),
        (lambda: warp_batch(np.zeros((1, 1, 3, 3)), np.eye(3)[None], 2), "channel_axis"),
        (lambda: warp_batch(np.zeros((1, 1, 3, 3)), np.eye(3)[None], 1, "mirror"), "fill_mode"),
        (lambda: apply_transform(np.zeros((3, 3)), np.eye(3)), "rank-3"),
    ],
)
def test_bad_warp_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("fill_mode", "scipy_mode"),
    [
        ("nearest", "nearest"),
        ("constant", "constant"),
        ("reflect", "reflect"),
        ("wrap", "grid-wrap"),
    ],
)
def test_random_warps_match_scipy_affine_transform_order_0(fill_mode, scipy_mode):
    """Where scipy is installed (it is optional): Keras 1's own resampler as the reference."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.RandomState(0)
    for _ in range(10):
        h, w = rng.randint(2, 16, 2)
        image = rng.rand(1, 1, h, w).astype(np.float32)
        matrix = (
            rotation_matrices(rng.uniform(-3, 3))
            @ translation_matrices(rng.uniform(-2 * h, 2 * h), rng.uniform(-2 * w, 2 * w))
            @ shear_matrices(rng.uniform(-1, 1))
            @ zoom_matrices(*rng.uniform(0.3, 3, 2))
        )
        matrix = transform_matrix_offset_center(matrix, h, w)[0]
        out = warp_batch(image, matrix[None], 1, fill_mode, CVAL)
        expected = ndimage.affine_transform(
            image[0, 0], matrix[:2, :2], matrix[:2, 2], order=0, mode=scipy_mode, cval=CVAL
        )
        np.testing.assert_array_equal(out[0, 0], expected)
