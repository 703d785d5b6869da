"""The dataset loaders parse files in the published formats, written here in miniature.

Nothing is downloaded: every loader gets ``path=`` to a file these tests write (a path
that names an existing file is the user's own copy).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from lamella.backend import image_dim_ordering, set_image_dim_ordering
from lamella.preproc.datasets import cifar10, cifar100, imdb, mnist, reuters
from lamella.preproc.datasets.sources import Published

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """A cache of the test's own, so nothing reaches ~/.lamella."""
    monkeypatch.setenv("LAMELLA_HOME", str(tmp_path / "home"))


@pytest.fixture
def ordering():
    """Set the image ordering for one test and put it back."""
    before = image_dim_ordering()
    yield set_image_dim_ordering
    set_image_dim_ordering(before)


# -- MNIST ------------------------------------------------------------------------------


def test_mnist_reads_the_four_arrays(tmp_path):
    arrays = {
        "x_train": RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": RNG.integers(0, 10, 5, dtype=np.uint8),
        "x_test": RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": RNG.integers(0, 10, 3, dtype=np.uint8),
    }
    np.savez(tmp_path / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=str(tmp_path / "mnist.npz"))
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"),
                     (y_test, "y_test")):  # fmt: skip
        np.testing.assert_array_equal(got, arrays[key])
        assert got.dtype == np.uint8


def test_mnist_without_an_array_names_what_is_missing(tmp_path):
    np.savez(tmp_path / "m.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"lacks the arrays \['y_train', 'x_test', 'y_test'\]"):
        mnist.load_data(path=str(tmp_path / "m.npz"))


def test_mnist_never_unpickles(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1], [2, 3]]
    np.savez(tmp_path / "m.npz", x_train=ragged, y_train=ragged, x_test=ragged, y_test=ragged)
    with pytest.raises(ValueError, match="allow_pickle"):
        mnist.load_data(path=str(tmp_path / "m.npz"))


# -- CIFAR ------------------------------------------------------------------------------


def _records(images: np.ndarray, *labels: np.ndarray) -> bytes:
    """CIFAR's binary records: the label bytes, then the 3072 pixels (R, G, B planes)."""
    return b"".join(
        bytes(int(column[i]) for column in labels) + images[i].tobytes() for i in range(len(images))
    )


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _cifar10(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    images = RNG.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    labels = RNG.integers(0, 10, 12, dtype=np.uint8)
    members = {
        f"cifar-10-batches-bin/data_batch_{i}.bin": _records(images[b], labels[b])
        for i, b in ((i, slice(2 * i - 2, 2 * i)) for i in range(1, 6))
    }  # fmt: skip
    members["cifar-10-batches-bin/test_batch.bin"] = _records(images[10:], labels[10:])
    return _tar(tmp_path / "cifar-10-binary.tar.gz", members), images, labels


def test_cifar10_reads_batches_in_order_channels_first(tmp_path, ordering):
    ordering("th")
    archive, images, labels = _cifar10(tmp_path)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=str(archive))
    np.testing.assert_array_equal(x_train, images[:10])
    np.testing.assert_array_equal(x_test, images[10:])
    np.testing.assert_array_equal(y_train, labels[:10, None])
    assert y_test.shape == (2, 1) and x_train.dtype == np.uint8


def test_cifar10_is_channels_last_under_tf_ordering(tmp_path, ordering):
    ordering("tf")
    archive, images, _ = _cifar10(tmp_path)
    (x_train, _), _ = cifar10.load_data(path=str(archive))
    assert x_train.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(x_train[3, 5, 7], images[3, :, 5, 7])  # the pixel's R, G, B


def test_cifar10_archive_without_a_batch_is_refused(tmp_path):
    archive = _tar(tmp_path / "c.tar.gz", {"cifar-10-batches-bin/test_batch.bin": b""})
    with pytest.raises(ValueError, match=r"data_batch_1\.bin"):
        cifar10.load_data(path=str(archive))


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_label_modes(tmp_path, ordering, label_mode):
    ordering("th")
    images = RNG.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    coarse, fine = RNG.integers(0, 20, 5), RNG.integers(0, 100, 5)
    archive = _tar(tmp_path / "c100.tar.gz", {
        "cifar-100-binary/train.bin": _records(images[:3], coarse[:3], fine[:3]),
        "cifar-100-binary/test.bin": _records(images[3:], coarse[3:], fine[3:]),
    })  # fmt: skip
    (_, y_train), (x_test, y_test) = cifar100.load_data(label_mode, path=str(archive))
    expected = fine if label_mode == "fine" else coarse
    np.testing.assert_array_equal(y_train[:, 0], expected[:3])
    np.testing.assert_array_equal(y_test[:, 0], expected[3:])
    np.testing.assert_array_equal(x_test, images[3:])


def test_cifar100_bad_label_mode_names_the_choices():
    with pytest.raises(ValueError, match=r"label_mode must be 'fine' or 'coarse', got 'medium'"):
        cifar100.load_data("medium")


# -- IMDB and Reuters ---------------------------------------------------------------------


def _objects(rows: list[list[int]]) -> np.ndarray:
    result = np.empty(len(rows), dtype=object)
    result[:] = rows
    return result


def _publish(monkeypatch, module, attribute: str, path: Path) -> None:
    """Make ``path`` the published file, as if the tests' miniature were the real one."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(module, attribute, Published("http://127.0.0.1:9/none", digest))


TRAIN = [[1, 5, 9, 2], [4, 4], [7, 3, 11, 12, 6], [2]]
TEST = [[8, 1], [3, 3, 3, 3, 3, 3]]


@pytest.fixture
def imdb_file(tmp_path, monkeypatch) -> Path:
    """Labels number the reviews (0..5), so each output row can be traced to its source."""
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=_objects(TRAIN), y_train=np.arange(4), x_test=_objects(TEST),
             y_test=np.arange(4, 6))  # fmt: skip
    _publish(monkeypatch, imdb, "IMDB", path)
    return path


def test_imdb_words_are_shifted_started_and_limited(imdb_file):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(
        path=str(imdb_file), nb_words=10, skip_top=2, index_from=3, start_char=1, oov_char=2
    )
    # by hand: +3, start_char 1 first, then words outside [2, 10) become 2 (1 included)
    expected = {0: [2, 4, 8, 2, 5], 1: [2, 7, 7], 2: [2, 2, 6, 2, 2, 9], 3: [2, 5],
                4: [2, 2, 4], 5: [2, 6, 6, 6, 6, 6, 6]}  # fmt: skip
    for xs, ys in ((x_train, y_train), (x_test, y_test)):
        assert xs.dtype == object and xs.ndim == 1
        for x, label in zip(xs, ys, strict=True):
            assert x == expected[int(label)]
    assert sorted(y_train) == [0, 1, 2, 3] and sorted(y_test) == [4, 5]


def test_imdb_oov_none_drops_words_and_maxlen_filters_each_split(imdb_file):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(
        path=str(imdb_file), nb_words=9, oov_char=None, maxlen=4
    )
    # lengths with the start char: 5, 3, 6, 2 | 3, 7; kept: <= 4
    assert sorted(y_train) == [1, 3] and list(y_test) == [4]
    by_label = {int(y): x for y, x in zip(y_train, x_train, strict=True)}
    assert by_label == {1: [1, 7, 7], 3: [1, 5]}
    assert list(x_test[0]) == [1, 4]  # 11 is not below nb_words=9


def test_imdb_shuffle_follows_the_seed(imdb_file):
    def order(seed):
        (_, y_train), (_, y_test) = imdb.load_data(path=str(imdb_file), seed=seed)
        return list(y_train) + list(y_test)

    assert order(113) == order(113)
    assert {tuple(order(seed)) for seed in range(6)} != {tuple(order(113))}


def test_imdb_refuses_to_unpickle_a_file_that_is_not_the_published_one(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=_objects(TRAIN), y_train=np.arange(4), x_test=_objects(TEST),
             y_test=np.arange(2))  # fmt: skip
    with pytest.raises(ValueError, match="unpickles nothing it cannot verify"):
        imdb.load_data(path=str(path))


def test_reuters_splits_by_test_split(tmp_path, monkeypatch):
    rows = [[i + 1] * (i % 3 + 1) for i in range(10)]
    path = tmp_path / "reuters.npz"
    np.savez(path, x=_objects(rows), y=np.arange(10))
    _publish(monkeypatch, reuters, "REUTERS", path)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(path=str(path), test_split=0.3)
    assert len(x_train) == 7 and len(x_test) == 3
    assert sorted([*y_train, *y_test]) == list(range(10))
    for x, label in zip([*x_train, *x_test], [*y_train, *y_test], strict=True):
        assert x == [1] + [int(label) + 1 + 3] * (int(label) % 3 + 1)


def test_word_indexes_are_json(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"the": 1, "and": 2}))
    assert imdb.get_word_index(path=str(path)) == {"the": 1, "and": 2}
    assert reuters.get_word_index(path=str(path)) == {"the": 1, "and": 2}
