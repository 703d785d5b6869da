"""load_img / img_to_array / array_to_img round trips and list_pictures."""

import os

import numpy as np
import pytest
from PIL import Image

from lamella.preproc.image import array_to_img, img_to_array, list_pictures, load_img

RGB = np.random.RandomState(0).randint(0, 256, (5, 7, 3)).astype(np.uint8)
GREY = RGB[:, :, 0].copy()


@pytest.mark.parametrize(
    ("pixels", "grayscale", "dim_ordering", "expected"),
    [
        (RGB, False, "tf", RGB),
        (RGB, False, "th", RGB.transpose(2, 0, 1)),
        (GREY, True, "tf", GREY[:, :, None]),
        (GREY, True, "th", GREY[None]),
    ],
)
def test_png_round_trip(tmp_path, pixels, grayscale, dim_ordering, expected):
    path = tmp_path / "picture.png"
    Image.fromarray(pixels).save(path)
    img = load_img(path, grayscale=grayscale)
    assert img.mode == ("L" if grayscale else "RGB")
    x = img_to_array(img, dim_ordering)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, expected)
    back = array_to_img(x, dim_ordering, scale=False)
    np.testing.assert_array_equal(np.asarray(back), pixels)


def test_load_img_converts_grey_to_rgb_and_resizes_nearest(tmp_path):
    path = tmp_path / "g.png"
    Image.fromarray(np.array([[0, 100], [200, 50]], np.uint8)).save(path)
    x = img_to_array(load_img(path, target_size=(4, 4)), "tf")
    expected = np.array(
        [[0, 0, 100, 100], [0, 0, 100, 100], [200, 200, 50, 50], [200, 200, 50, 50]]
    )
    np.testing.assert_array_equal(x, np.repeat(expected[:, :, None], 3, axis=2))


def test_array_to_img_scales_like_keras1():
    """Negative minimum: shift up by -min, divide by the max, times 255, rounded."""
    x = np.array([-1.0, -0.5, 1.0, 0.0]).reshape(1, 2, 2)
    out = np.asarray(array_to_img(x, "th", scale=True))
    np.testing.assert_array_equal(out, [[0, 64], [255, 128]])
    positive = np.array([2.0, 4.0]).reshape(1, 2, 1)  # min >= 0: no shift, only the stretch
    np.testing.assert_array_equal(np.asarray(array_to_img(positive, "th")), [[128], [255]])


def test_array_to_img_keeps_rgba_and_leaves_its_input_alone():
    x = np.full((2, 2, 4), 3.0)
    img = array_to_img(x, "tf")
    assert img.mode == "RGBA" and x[0, 0, 0] == 3.0


def test_list_pictures_matches_extensions_recursively(tmp_path):
    for name in ["b.jpg", "a.PNG", "c.txt", "sub/d.jpeg", "sub/e.gif", "f.bmp"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in list_pictures(tmp_path)]
    assert found == ["a.PNG", "b.jpg", "f.bmp", "sub/d.jpeg"]
    assert list_pictures(tmp_path, ext="gif") == [os.path.join(tmp_path, "sub", "e.gif")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: array_to_img(np.zeros((2, 2)), "tf"), "array_to_img: x must be a rank-3"),
        (lambda: array_to_img(np.zeros((2, 2, 2)), "tf"), "1, 3 or 4 channels"),
        (lambda: array_to_img(np.zeros((2, 2, 3)), "xy"), "dim_ordering"),
        (lambda: img_to_array(Image.new("RGB", (2, 2)), "chw"), "img_to_array: dim_ordering"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_load_img_of_a_non_image_fails(tmp_path):
    path = tmp_path / "fake.png"
    path.write_text("nope")
    with pytest.raises(OSError, match=r"fake\.png"):
        load_img(path)
