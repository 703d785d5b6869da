"""flow_from_directory on a temporary tree of small PNG/BMP files written with Pillow."""

import os

import numpy as np
import pytest
from PIL import Image

from lamella.preproc.image import ImageDataGenerator

# class -> {relative file name: RGB colour of that (uniform) image}
TREE = {
    "cat": {"a.png": (255, 0, 0), "b.PNG": (0, 0, 255), "sub/c.png": (10, 20, 30)},
    "dog": {"d.bmp": (0, 0, 0), "e.png": (200, 200, 200)},
}
FILENAMES = ["cat/a.png", "cat/b.PNG", "cat/sub/c.png", "dog/d.bmp", "dog/e.png"]
LABELS = [0, 0, 0, 1, 1]


@pytest.fixture
def tree(tmp_path):
    for cls, files in TREE.items():
        for name, colour in files.items():
            path = tmp_path / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 3), colour).save(path)
    (tmp_path / "cat" / "notes.txt").write_text("not an image, wrong extension: ignored")
    (tmp_path / "stray.png").write_bytes(b"")  # not inside a class directory: ignored
    return tmp_path


def flow(directory, **kwargs):
    kwargs.setdefault("target_size", (3, 4))
    kwargs.setdefault("shuffle", False)
    return ImageDataGenerator(dim_ordering="tf").flow_from_directory(str(directory), **kwargs)


def test_classes_filenames_and_the_found_message(tree, capsys):
    it = flow(tree)
    assert capsys.readouterr().out == "Found 5 images belonging to 2 classes.\n"
    assert it.class_indices == {"cat": 0, "dog": 1}
    assert [f.replace(os.sep, "/") for f in it.filenames] == FILENAMES
    assert it.classes.tolist() == LABELS
    assert (it.nb_sample, it.nb_class) == (5, 2)


def test_pixels_come_through_in_rgb(tree):
    bx, _ = next(flow(tree, batch_size=5))
    colours = [TREE[f.split("/")[0]][f.split("/", 1)[1]] for f in FILENAMES]
    np.testing.assert_array_equal(
        bx, np.broadcast_to(np.array(colours, np.float32)[:, None, None], (5, 3, 4, 3))
    )


@pytest.mark.parametrize(
    ("class_mode", "expected"),
    [
        ("categorical", np.eye(2, dtype=np.float32)[LABELS]),
        ("binary", np.array(LABELS, dtype=np.float32)),
        ("sparse", np.array(LABELS, dtype=np.int32)),
    ],
)
def test_class_modes(tree, class_mode, expected):
    _, by = next(flow(tree, batch_size=5, class_mode=class_mode))
    assert by.dtype == expected.dtype
    np.testing.assert_array_equal(by, expected)


def test_class_mode_none_yields_images_only(tree):
    batch = next(flow(tree, batch_size=2, class_mode=None))
    assert isinstance(batch, np.ndarray) and batch.shape == (2, 3, 4, 3)


def test_given_classes_choose_and_order_the_classes(tree):
    it = flow(tree, classes=["dog", "cat"], batch_size=5)
    assert it.class_indices == {"dog": 0, "cat": 1}
    assert it.classes.tolist() == [0, 0, 1, 1, 1]


@pytest.mark.parametrize(("dim_ordering", "shape"), [("th", (5, 1, 6, 8)), ("tf", (5, 6, 8, 1))])
def test_grayscale_and_target_size(tree, dim_ordering, shape):
    generator = ImageDataGenerator(dim_ordering=dim_ordering)
    it = generator.flow_from_directory(
        str(tree), target_size=(6, 8), color_mode="grayscale", shuffle=False, batch_size=5
    )
    bx, _ = next(it)
    assert bx.shape == shape and bx.dtype == np.float32
    # PIL's luma L = (299 R + 587 G + 114 B) / 1000: pure red (255, 0, 0) gives 76.
    assert np.all(bx[0] == 76.0)


def test_an_unreadable_file_is_skipped_with_a_warning_naming_it(tree, capsys):
    (tree / "dog" / "broken.png").write_bytes(b"this is not a png")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable .*broken\.png"):
        it = flow(tree)
    assert it.nb_sample == 5 and not any("broken" in f for f in it.filenames)
    assert "Found 5 images" in capsys.readouterr().out


def test_save_to_dir_writes_one_file_per_image(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("saved")
    next(flow(tree, batch_size=3, save_to_dir=str(out), save_prefix="aug", save_format="png"))
    saved = sorted(os.listdir(out))
    assert len(saved) == 3 and all(n.startswith("aug_") and n.endswith(".png") for n in saved)
    assert sorted(int(n.split("_")[1]) for n in saved) == [0, 1, 2]


def test_seeded_shuffled_directory_flows_repeat(tree):
    generator = ImageDataGenerator(rotation_range=40, horizontal_flip=True, dim_ordering="th")

    def run():
        it = generator.flow_from_directory(str(tree), target_size=(5, 5), batch_size=3, seed=11)
        return [next(it) for _ in range(3)]

    for (ax, ay), (bx, by) in zip(run(), run(), strict=True):
        np.testing.assert_array_equal(ax, bx)
        np.testing.assert_array_equal(ay, by)


def test_bad_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        flow(tmp_path / "missing")
    with pytest.raises(ValueError, match="found no readable"):
        flow(tmp_path)
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "x.jpg").write_bytes(b"garbage")
    with (
        pytest.warns(UserWarning, match="x.jpg"),
        pytest.raises(ValueError, match="found no readable"),
    ):
        flow(tmp_path)
    with pytest.raises(FileNotFoundError, match="class 'nope'"):
        flow(tmp_path, classes=["nope"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"color_mode": "rgba"}, "color_mode"),
        ({"class_mode": "onehot"}, "class_mode"),
        ({"target_size": (3,)}, "target_size"),
        ({"batch_size": -1}, "batch_size"),
    ],
)
def test_bad_arguments(tree, kwargs, message):
    with pytest.raises(ValueError, match=message):
        flow(tree, **kwargs)
