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
from lamella.preproc.datasets import cifar10, cifar100, imdb, mnist, reuters, sources
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
    assert y_test.shape == (2, 1) and x_train.dtype == y_train.dtype == np.uint8
    assert x_train.flags.writeable and y_train.flags.writeable  # not views of the bytes read


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


@pytest.mark.parametrize(("label_mode", "dim_ordering"), [("fine", "th"), ("coarse", "tf")])
def test_cifar100_label_modes(tmp_path, ordering, label_mode, dim_ordering):
    ordering(dim_ordering)
    images = RNG.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    coarse, fine = RNG.integers(0, 20, 5), RNG.integers(0, 100, 5)
    archive = _tar(tmp_path / "c100.tar.gz", {
        "cifar-100-binary/train.bin": _records(images[:3], coarse[:3], fine[:3]),
        "cifar-100-binary/test.bin": _records(images[3:], coarse[3:], fine[3:]),
    })  # fmt: skip
    (_, y_train), (x_test, y_test) = cifar100.load_data(label_mode, path=str(archive))
    expected = fine if label_mode == "fine" else coarse
    assert y_train.shape == (3, 1) and y_test.shape == (2, 1)
    np.testing.assert_array_equal(y_train[:, 0], expected[:3])
    np.testing.assert_array_equal(y_test[:, 0], expected[3:])
    want = images[3:] if dim_ordering == "th" else images[3:].transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(x_test, want)


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


def _write_imdb(path: Path, train: list, test: list) -> Path:
    """Labels number the reviews, so each output row can be traced to its source."""
    n = len(train)
    np.savez(path, x_train=_objects(train), y_train=np.arange(n),
             x_test=_objects(test), y_test=np.arange(n, n + len(test)))  # fmt: skip
    return path


TRAIN = [[1, 5, 9, 2], [4, 4], [7, 3, 11, 12, 6], [2]]
TEST = [[8, 1], [3, 3, 3, 3, 3, 3]]


@pytest.fixture
def imdb_file(tmp_path, monkeypatch) -> Path:
    path = _write_imdb(tmp_path / "imdb.npz", TRAIN, TEST)
    _publish(monkeypatch, imdb, "IMDB", path)
    return path


def _by_label(*splits) -> dict[int, list[int]]:
    return {int(y): x for xs, ys in splits for x, y in zip(xs, ys, strict=True)}


def test_imdb_words_are_shifted_started_and_limited(imdb_file):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(
        path=str(imdb_file), nb_words=10, skip_top=2, index_from=3, start_char=1, oov_char=2
    )
    # by hand: +3, start_char 1 first, then words outside [2, 10) become 2 (1 included)
    assert _by_label((x_train, y_train), (x_test, y_test)) == {
        0: [2, 4, 8, 2, 5], 1: [2, 7, 7], 2: [2, 2, 6, 2, 2, 9], 3: [2, 5],
        4: [2, 2, 4], 5: [2, 6, 6, 6, 6, 6, 6],
    }  # fmt: skip
    for xs in (x_train, x_test):
        assert xs.dtype == object and xs.ndim == 1 and all(type(x) is list for x in xs)
    assert sorted(y_train) == [0, 1, 2, 3] and sorted(y_test) == [4, 5]


def test_imdb_maxlen_keeps_shorter_sequences_of_each_split_and_oov_none_drops(imdb_file):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(
        path=str(imdb_file), nb_words=9, oov_char=None, maxlen=5
    )
    # lengths with the start char: 5, 3, 6, 2 | 3, 7; kept: below 5, so review 0 goes too
    assert sorted(y_train) == [1, 3] and list(y_test) == [4]
    assert _by_label((x_train, y_train)) == {1: [1, 7, 7], 3: [1, 5]}
    assert x_test[0] == [1, 4]  # 11 + 3 is not below nb_words=9: dropped


def test_imdb_without_nb_words_bounds_by_the_largest_index_as_keras_does(imdb_file):
    rows = _by_label(*imdb.load_data(path=str(imdb_file)))
    # the largest shifted index, 12 + 3, is the bound, so it alone becomes oov_char
    assert rows[2] == [1, 10, 6, 14, 2, 9] and rows[0] == [1, 4, 8, 12, 5]


def test_imdb_maxlen_that_keeps_nothing_says_so(imdb_file):
    with pytest.raises(ValueError, match="maxlen=2 leaves no sequence"):
        imdb.load_data(path=str(imdb_file), maxlen=2)


def _keras_steps(train, test, nb_words=None, skip_top=0, maxlen=None, seed=113,
                 start_char=1, oov_char=2, index_from=3):  # fmt: skip
    """Keras 1.2.2's imdb steps, done its way (numpy's global generator shuffling lists),
    except that ``maxlen`` filters each split on its own (Keras cut the filtered whole)."""
    state = np.random.get_state()
    splits = []
    try:
        for xs, labels, split_seed in ((train, 0, seed), (test, len(train), seed * 2)):
            xs, labels = list(xs), list(range(labels, labels + len(xs)))
            np.random.seed(split_seed)
            np.random.shuffle(xs)
            np.random.seed(split_seed)
            np.random.shuffle(labels)
            splits.append((xs, labels))
    finally:
        np.random.set_state(state)
    first = [start_char] if start_char is not None else []
    splits = [([first + [w + index_from for w in x] for x in xs], ys) for xs, ys in splits]
    if maxlen:
        kept = [[i for i, x in enumerate(xs) if len(x) < maxlen] for xs, _ in splits]
        splits = [
            ([xs[i] for i in k], [ys[i] for i in k])
            for (xs, ys), k in zip(splits, kept, strict=True)
        ]
    bound = nb_words or max(max(x) for xs, _ in splits for x in xs)
    out = []
    for xs, ys in splits:
        if oov_char is None:
            xs = [[w for w in x if skip_top <= w < bound] for x in xs]
        else:
            xs = [[w if skip_top <= w < bound else oov_char for w in x] for x in xs]
        out.append((xs, ys))
    return out


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"nb_words": 20, "skip_top": 3},
        {"maxlen": 8, "oov_char": None},
        {"start_char": None, "index_from": 0, "seed": 7},
    ],
)
def test_imdb_matches_keras_steps_on_random_reviews(tmp_path, monkeypatch, options):
    train = [list(RNG.integers(1, 31, RNG.integers(1, 13))) for _ in range(40)]
    test = [list(RNG.integers(1, 31, RNG.integers(1, 13))) for _ in range(15)]
    train, test = [[[int(w) for w in x] for x in xs] for xs in (train, test)]
    path = _write_imdb(tmp_path / "imdb.npz", train, test)
    _publish(monkeypatch, imdb, "IMDB", path)
    got = imdb.load_data(path=str(path), **options)
    for (xs, ys), (want_xs, want_ys) in zip(got, _keras_steps(train, test, **options), strict=True):
        assert list(ys) == want_ys
        assert list(xs) == want_xs


def test_imdb_shuffle_follows_the_seed(imdb_file):
    def order(seed):
        (_, y_train), (_, y_test) = imdb.load_data(path=str(imdb_file), seed=seed)
        return list(y_train) + list(y_test)

    assert order(113) == order(113)
    assert {tuple(order(seed)) for seed in range(6)} != {tuple(order(113))}


def test_imdb_refuses_to_unpickle_a_file_that_is_not_the_published_one(tmp_path):
    path = _write_imdb(tmp_path / "imdb.npz", TRAIN, TEST)
    with pytest.raises(ValueError, match=r"unpickles nothing it cannot verify.*allow_pickle=True"):
        imdb.load_data(path=str(path))


def test_imdb_reads_a_trusted_file_of_ones_own_with_allow_pickle(tmp_path):
    path = _write_imdb(tmp_path / "mine.npz", TRAIN, TEST)
    (_, y_train), (x_test, y_test) = imdb.load_data(path=str(path), allow_pickle=True)
    assert sorted(y_train) == [0, 1, 2, 3]
    assert _by_label((x_test, y_test)) == {4: [1, 11, 4], 5: [1] + [6] * 6}


def _reuters(tmp_path, monkeypatch) -> Path:
    rows = [[i + 1] * (i % 3 + 1) for i in range(10)]
    path = tmp_path / "reuters.npz"
    np.savez(path, x=_objects(rows), y=np.arange(10))
    _publish(monkeypatch, reuters, "REUTERS", path)
    return path


def _reuters_row(label: int) -> list[int]:
    """Row ``label`` by hand: start 1, then its word + 3; 13 (row 9's) is Keras's bound."""
    word = label + 1 + 3
    return [1] + [word if word < 13 else 2] * (label % 3 + 1)


def test_reuters_splits_by_test_split(tmp_path, monkeypatch):
    path = _reuters(tmp_path, monkeypatch)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(path=str(path), test_split=0.3)
    assert len(x_train) == 7 and len(x_test) == 3
    assert sorted([*y_train, *y_test]) == list(range(10))
    for x, label in zip([*x_train, *x_test], [*y_train, *y_test], strict=True):
        assert x == _reuters_row(int(label))


def test_reuters_filters_by_maxlen_before_it_splits(tmp_path, monkeypatch):
    path = _reuters(tmp_path, monkeypatch)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(
        path=str(path), maxlen=4, test_split=0.3
    )
    # lengths with the start char: 2, 3, 4, 2, 3, 4, ...; rows 2, 5 and 8 are not below 4,
    # and the 7 left split at int(7 * 0.7) = 4
    assert len(x_train) == 4 and len(x_test) == 3
    assert sorted([*y_train, *y_test]) == [0, 1, 3, 4, 6, 7, 9]
    assert all(x == _reuters_row(int(y)) for x, y in zip(x_train, y_train, strict=True))


def test_reuters_shuffles_as_keras_did(tmp_path, monkeypatch):
    path = _reuters(tmp_path, monkeypatch)
    (_, y_train), (_, y_test) = reuters.load_data(path=str(path), seed=5)
    state = np.random.get_state()
    labels = list(range(10))
    np.random.seed(5)
    np.random.shuffle(labels)
    np.random.set_state(state)
    assert [*y_train, *y_test] == labels


def test_reuters_test_split_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"test_split must be in \[0, 1\), got 1\.5"):
        reuters.load_data(test_split=1.5)


def test_word_indexes_are_json(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"the": 1, "and": 2}))
    assert imdb.get_word_index(path=str(path)) == {"the": 1, "and": 2}
    assert reuters.get_word_index(path=str(path)) == {"the": 1, "and": 2}


def test_a_path_with_folders_that_does_not_exist_is_not_fetched(tmp_path):
    missing = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(FileNotFoundError, match="does not exist; pass an existing file"):
        mnist.load_data(path=str(missing))
    assert not (tmp_path / "nowhere").exists()


def test_keras_paths_reach_the_loaders():
    from lamella.datasets import cifar10 as facade
    from lamella.datasets.mnist import load_data
    from lamella.utils.data_utils import get_file

    assert load_data is mnist.load_data and facade.load_data is cifar10.load_data
    assert get_file is sources.get_file  # the loaders download through core's get_file


def test_keras2_num_words_is_nb_words(imdb_file):
    one = imdb.load_data(path=str(imdb_file), nb_words=9)
    two = imdb.load_data(path=str(imdb_file), num_words=9)
    assert [list(x) for x in one[0][0]] == [list(x) for x in two[0][0]]
    with pytest.raises(TypeError, match=r"'num_words' \(Keras 2\) and 'nb_words'"):
        imdb.load_data(path=str(imdb_file), nb_words=9, num_words=9)
