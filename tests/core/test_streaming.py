"""Data that does not fit: ``fit``, ``evaluate`` and ``predict`` stream it batch by batch.

The streamed path must train exactly what the whole-data path trains (both draw the
epoch's order from torch's generator), read only the rows each batch needs (slices,
or sorted indices for shuffle=True), and keep memory to a few batches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.backend import config
from lamella.engine import batches
from lamella.engine import data as data_utils
from lamella.layers import Dense, Embedding, Flatten, Input
from lamella.models import Model, Sequential

RNG = np.random.default_rng(21)
X = RNG.normal(size=(103, 5)).astype("float32")
Y = RNG.normal(size=(103, 2)).astype("float32")
LABELS = RNG.integers(0, 3, size=(103, 1))
WEIGHTS = RNG.random(103).astype("float32")


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    """Each test starts from the default data_budget, whatever the shell sets."""
    monkeypatch.delenv("LAMELLA_DATA_BUDGET", raising=False)
    K.reload_config()
    yield
    K.reload_config()


def regression(seed: int = 1) -> Sequential:
    torch.manual_seed(seed)
    model = Sequential([Dense(4, input_dim=5, activation="tanh"), Dense(2)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.05), loss="mse")
    return model


def classifier(seed: int = 1) -> Sequential:
    torch.manual_seed(seed)
    model = Sequential([Dense(3, input_dim=5, activation="softmax")])
    model.compile(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def fitted(model: Sequential, x: Any, y: Any, seed: int = 2, **kwargs: Any):
    torch.manual_seed(seed)  # the epoch orders
    history = model.fit(x, y, batch_size=16, nb_epoch=3, verbose=0, **kwargs)
    return model.get_weights(), history.history


def assert_same_training(streamed, whole) -> None:
    for ours, theirs in zip(streamed[0], whole[0], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert streamed[1].keys() == whole[1].keys()
    for key in whole[1]:
        np.testing.assert_allclose(streamed[1][key], whole[1][key], rtol=1e-6)


class Counting:
    """An array-like that is not a numpy array (as an HDF5Matrix is not): it records
    every read, and a read of the whole array."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.reads: list[Any] = []
        self.whole = 0

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, key: Any) -> np.ndarray:
        self.reads.append(key.copy() if isinstance(key, np.ndarray) else key)
        return self.array[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self.whole += 1
        return self.array if dtype is None else self.array.astype(dtype)


# -- the streamed path trains what the whole-data path trains ----------------------------


@pytest.mark.parametrize("shuffle", [False, True, "batch"])
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"sample_weight": WEIGHTS, "validation_split": 0.2},
        {"validation_data": (X[:20], Y[:20])},
    ],
    ids=["plain", "weights+split", "validation_data"],
)
def test_streamed_fit_trains_the_same_weights_as_whole_data(shuffle, extra) -> None:
    streamed = fitted(regression(), X, Y, shuffle=shuffle, stream=True, **extra)
    whole = fitted(regression(), X, Y, shuffle=shuffle, stream=False, **extra)
    assert_same_training(streamed, whole)


def test_streamed_class_weights_and_sparse_targets_match_whole_data() -> None:
    table = {0: 1.0, 1: 2.5, 2: 0.5}
    streamed = fitted(classifier(), X, LABELS, class_weight=table, stream=True)
    whole = fitted(classifier(), X, LABELS, class_weight=table, stream=False)
    assert_same_training(streamed, whole)


def test_streamed_sgd_follows_numpy_on_the_same_permutations() -> None:
    """Plain SGD on a linear model, against numpy on the orders torch draws for the seed."""
    x = RNG.normal(size=(50, 3)).astype("float32")
    y = RNG.normal(size=(50, 1)).astype("float32")
    torch.manual_seed(0)
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss="mse")
    W, b = (w.astype("float64") for w in model.get_weights())
    torch.manual_seed(5)
    orders = [torch.randperm(50).numpy() for _ in range(2)]
    for order in orders:
        for start in range(0, 50, 16):
            rows = order[start : start + 16]
            error = x[rows] @ W + b - y[rows]  # mse: mean over the batch of the squared error
            W = W - 0.1 * 2 * x[rows].T @ error / len(rows)
            b = b - 0.1 * 2 * error.mean(0)
    torch.manual_seed(5)
    model.fit(x, y, batch_size=16, nb_epoch=2, verbose=0, stream=True)
    np.testing.assert_allclose(model.get_weights()[0], W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-6)


def test_streamed_fit_takes_lists_and_several_inputs() -> None:
    a, b = Input((3,)), Input((2,))
    torch.manual_seed(1)
    model = Model(input=[a, b], output=Dense(2)(K.concatenate([a, b])))
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.05), loss="mse")
    start = model.get_weights()
    inputs = [X[:, :3].tolist(), X[:, 3:]]
    streamed = fitted(model, inputs, Y, stream=True)
    model.set_weights(start)
    whole = fitted(model, inputs, Y, stream=False)
    assert_same_training(streamed, whole)


# -- what is read ----------------------------------------------------------------------


def test_shuffle_false_reads_batches_in_order_as_slices() -> None:
    x = Counting(X)
    regression().fit(x, Y, batch_size=16, nb_epoch=2, shuffle=False, verbose=0, stream=True)
    expected = [slice(s, min(s + 16, 103)) for s in range(0, 103, 16)]
    assert x.reads == expected * 2 and x.whole == 0


def test_shuffle_batch_reads_whole_batches_as_slices_the_short_one_last() -> None:
    x = Counting(X)
    torch.manual_seed(4)
    regression().fit(x, Y, batch_size=16, nb_epoch=3, shuffle="batch", verbose=0, stream=True)
    assert x.whole == 0 and all(isinstance(key, slice) for key in x.reads)
    epochs = [x.reads[i : i + 7] for i in range(0, 21, 7)]
    chunks = {(s, min(s + 16, 103)) for s in range(0, 103, 16)}
    for reads in epochs:
        assert {(key.start, key.stop) for key in reads} == chunks
        assert (reads[-1].start, reads[-1].stop) == (96, 103)  # Keras 1: the rest comes last
    assert len({tuple(key.start for key in reads) for reads in epochs}) > 1  # reshuffled


def test_shuffle_true_reads_sorted_rows_and_warns_once() -> None:
    x = Counting(X)
    with pytest.warns(UserWarning, match="shuffle='batch'") as caught:
        streamed = fitted(regression(), x, Y, shuffle=True, stream=True)
    assert len([w for w in caught if "scattered" in str(w.message)]) == 1
    assert x.whole == 0 and len(x.reads) == 21
    for epoch in range(3):
        reads = x.reads[epoch * 7 : (epoch + 1) * 7]
        assert all(isinstance(k, np.ndarray) and np.all(np.diff(k) > 0) for k in reads)
        assert sorted(np.concatenate(reads).tolist()) == list(range(103))
    assert_same_training(streamed, fitted(regression(), X, Y))  # the rows put back in order


def test_predict_reads_slices_in_order_and_matches_numpy() -> None:
    model = Sequential([Dense(2, input_dim=5)])
    W, b = model.get_weights()
    x = Counting(X)
    np.testing.assert_allclose(model.predict(x, batch_size=40, stream=True), X @ W + b, rtol=1e-5)
    assert x.reads == [slice(0, 40), slice(40, 80), slice(80, 103)]


def test_small_array_likes_are_read_whole_large_ones_streamed(monkeypatch) -> None:
    model = Sequential([Dense(2, input_dim=5)])
    small = Counting(X)
    model.predict(small)
    assert small.whole == 1 and small.reads == []  # small data from a file: one read
    monkeypatch.setattr(data_utils, "SMALL_FILE_BYTES", X.nbytes - 1)
    large = Counting(X)
    model.predict(large, batch_size=64)
    assert large.whole == 0 and large.reads == [slice(0, 64), slice(64, 103)]


# -- the choice ------------------------------------------------------------------------


class Declared:
    """An array-like with a shape and dtype and nothing read: for the decision alone."""

    def __init__(self, shape: tuple[int, ...], dtype: str = "float32"):
        self.shape, self.dtype = shape, np.dtype(dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        raise AssertionError("the decision must not read data")


def test_the_choice_counts_only_new_memory_against_the_budget(tmp_path: Path) -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    f32 = np.zeros((1000, 250), "float32")  # 1 MB
    K.set_data_budget("400KB")
    streams = data_utils.streams
    assert not streams([(f32, torch.float32)], cpu)  # shared as it is: no new memory
    assert not streams([(torch.from_numpy(f32), torch.float32)], cpu)
    assert streams([(f32.astype("float64"), torch.float32)], cpu)  # a converted copy: 1 MB
    assert streams([(f32[:, ::2], torch.float32)], cpu)  # not contiguous: copied (0.5 MB)
    assert streams([(f32, torch.float32)], gpu)  # a GPU needs its own copy
    assert not streams([(f32[:400], torch.float32)], gpu)  # 400 KB fit
    assert streams([(f32[:400], torch.float32), (f32[:400], torch.float32)], gpu)  # 800 KB
    K.set_data_budget("2MB")
    assert not streams([(f32.astype("float64"), torch.float32)], cpu)
    np.save(tmp_path / "x.npy", f32)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert not streams([(mapped, torch.float32)], cpu)  # small, within the budget
    K.set_data_budget("400KB")
    assert streams([(mapped[:600], torch.float32)], cpu)  # a view of a memory map is one too
    K.set_data_budget(1.0)
    huge = Declared((10**6, 100))  # 400 MB from a file: streamed whatever the budget
    assert streams([(huge, torch.float32)], cpu)
    assert not streams([(Declared((1000, 100)), torch.float32)], cpu)


def test_auto_and_shares_are_parts_of_free_memory(monkeypatch) -> None:
    monkeypatch.setattr(data_utils, "free_memory", lambda device: 1000.0)
    cpu = torch.device("cpu")
    assert data_utils.budget_bytes(cpu) == 1000.0 * config.AUTO_DATA_SHARE
    K.set_data_budget(0.25)
    assert data_utils.budget_bytes(cpu) == 250.0
    K.set_data_budget("3KiB")
    assert data_utils.budget_bytes(cpu) == 3072.0


def test_available_ram_is_what_the_system_reports() -> None:
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("needs /proc/meminfo")
    with open("/proc/meminfo") as handle:
        stated = next(int(line.split()[1]) * 1024 for line in handle if "MemAvailable" in line)
    assert 0 < data_utils.available_ram() <= stated * 1.5  # it moves while we read it


def test_fit_streams_a_memory_map_over_the_budget(tmp_path: Path, monkeypatch) -> None:
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    made = []
    original = batches.StreamedBatches.__init__

    def spy(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(batches.StreamedBatches, "__init__", spy)
    whole = fitted(regression(), mapped, Y)
    assert not made  # 2 KB: read whole
    K.set_data_budget("1KB")
    streamed = fitted(regression(), mapped, Y)
    assert len(made) == 1
    assert_same_training(streamed, whole)


@pytest.mark.parametrize("stream", [True, False])
def test_predict_and_evaluate_on_a_memory_map_equal_in_memory(tmp_path: Path, stream) -> None:
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", Y)
    x, y = np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    model = regression()
    model.compile(optimizer=model.optimizer, loss="mse", metrics=["mae"])
    W1, b1, W2, b2 = model.get_weights()
    expected = np.tanh(X @ W1 + b1) @ W2 + b2
    np.testing.assert_allclose(model.predict(x, stream=stream), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict(x, stream=stream), model.predict(X, stream=False))
    loss, mae = model.evaluate(x, y, batch_size=16, verbose=0, stream=stream)
    np.testing.assert_allclose(loss, ((expected - Y) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(mae, np.abs(expected - Y).mean(), rtol=1e-5)


def test_predict_gathers_several_outputs_on_the_host() -> None:
    inp = Input((5,))
    torch.manual_seed(3)
    first, second = Dense(2)(inp), Dense(3, activation="relu")(inp)
    model = Model(input=inp, output=[first, second])
    streamed = model.predict(X, batch_size=10, stream=True)
    whole = model.predict(X, batch_size=10, stream=False)
    assert [o.shape for o in streamed] == [(103, 2), (103, 3)]
    for ours, theirs in zip(streamed, whole, strict=True):
        np.testing.assert_array_equal(ours, theirs)


# -- checks on streamed batches ---------------------------------------------------------


def test_streamed_class_indices_are_checked_as_batches_are_read() -> None:
    labels = LABELS.copy()
    labels[90] = 3
    with pytest.raises(ValueError, match="class indices from 0 to 3, but the output has 3"):
        classifier().fit(X, labels, batch_size=16, nb_epoch=1, verbose=0, stream=True)
    with pytest.raises(ValueError, match="must hold whole class indices"):
        classifier().fit(X, LABELS + 0.5, batch_size=16, verbose=0, stream=True)


def test_streamed_embedding_input_is_checked_naming_the_layer() -> None:
    model = Sequential([Embedding(10, 2, input_length=4), Flatten(), Dense(1)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss="mse")
    ids = RNG.integers(0, 10, size=(40, 4))
    ids[35, 1] = 12
    with pytest.raises(IndexError, match=r"Embedding .* holds index 12"):
        model.fit(ids, np.zeros((40, 1)), batch_size=8, nb_epoch=1, verbose=0, stream=True)


def test_streamed_shapes_are_checked_before_any_batch() -> None:
    x = Counting(X[:, :4])
    with pytest.raises(ValueError, match="expected dense_input_1 to have shape"):
        regression().fit(x, Y, verbose=0, stream=True)
    assert x.reads == []
    with pytest.raises(ValueError, match="same number of samples"):
        regression().fit(Counting(X), Y[:50], verbose=0, stream=True)
    with pytest.raises(TypeError, match="must be numeric"):
        regression().fit(np.array([["a"] * 5] * 4), Y[:4], verbose=0, stream=True)


def test_stream_and_data_budget_refuse_nonsense(monkeypatch) -> None:
    with pytest.raises(ValueError, match="fit: stream must be True"):
        regression().fit(X, Y, verbose=0, stream="yes")
    with pytest.raises(ValueError, match="predict: stream must be True"):
        regression().predict(X, stream=1)
    with pytest.raises(ValueError, match="set_data_budget: data_budget must be"):
        K.set_data_budget("lots")
    monkeypatch.setenv("LAMELLA_DATA_BUDGET", "-3")
    K.reload_config()
    with pytest.raises(ValueError, match="LAMELLA_DATA_BUDGET: data_budget must be"):
        K.settings()


def test_data_budget_comes_from_the_file_then_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LAMELLA_HOME", str(tmp_path))
    (tmp_path / "lamella.json").write_text(json.dumps({"data_budget": "2GiB"}))
    K.reload_config()
    assert config.data_budget() == 2 * 2**30
    monkeypatch.setenv("LAMELLA_DATA_BUDGET", "0.3")
    K.reload_config()
    assert config.data_budget() == 0.3
    K.set_data_budget("512MB")
    assert K.save_config() == tmp_path / "lamella.json"
    assert json.loads((tmp_path / "lamella.json").read_text())["data_budget"] == 512 * 10**6


# -- memory ----------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    import numpy as np, torch
    from lamella.layers import Dense
    from lamella.models import Sequential

    def anonymous_kib():  # what the process allocated; a memory map's pages are not in it
        with open("/proc/self/status") as handle:
            return next(int(l.split()[1]) for l in handle if l.startswith("RssAnon:"))

    def peak_growth(run):
        before, peak, done = anonymous_kib(), [0], threading.Event()
        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], anonymous_kib())
                time.sleep(0.001)
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            run()
        finally:
            done.set()
            sampler.join()
        return (max(peak[0], anonymous_kib()) - before) / 1024

    x = np.load(sys.argv[1], mmap_mode="r")
    y = np.load(sys.argv[2])
    torch.manual_seed(0)
    model = Sequential([Dense(8, input_dim=x.shape[1], activation="tanh"), Dense(1)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.01), loss="mse")
    start = model.get_weights()
    model.fit(x[:256], y[:256], batch_size=256, nb_epoch=1, verbose=0)  # threads, allocator
    model.set_weights(start)
    torch.manual_seed(1)
    streamed = peak_growth(lambda: model.fit(x, y, batch_size=256, nb_epoch=1, verbose=0))
    weights = [w.tolist() for w in model.get_weights()]
    whole = peak_growth(lambda: model.fit(x, y, batch_size=256, nb_epoch=1, verbose=0,
                                          stream=False))
    print(json.dumps({"streamed": streamed, "whole": whole, "weights": weights}))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
def test_fit_on_a_memory_map_larger_than_the_budget_stays_bounded(tmp_path: Path) -> None:
    """48 MiB of data and an 4 MiB budget: streaming adds a few batches, never the data
    (the whole-data path, run after it in the same child, shows the copy it makes)."""
    rows, features = 48 * 2**20 // (4 * 256), 256
    rng = np.random.default_rng(0)
    stored = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", "float32", (rows, features))
    for start in range(0, rows, 8192):
        stored[start : start + 8192] = rng.normal(size=(min(8192, rows - start), features))
    stored.flush()
    y = rng.normal(size=(rows, 1)).astype("float32")
    np.save(tmp_path / "y.npy", y)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    env.update(LAMELLA_DATA_BUDGET="4MiB", LAMELLA_DEVICE="cpu", MALLOC_ARENA_MAX="2")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["streamed"] < 12, report  # MiB over the start: batches, not 48 MiB of data
    assert report["whole"] > 40, report  # the same measure sees a whole copy
    torch.manual_seed(0)
    model = Sequential([Dense(8, input_dim=features, activation="tanh"), Dense(1)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.01), loss="mse")
    torch.manual_seed(1)
    model.fit(np.load(tmp_path / "x.npy"), y, batch_size=256, nb_epoch=1, verbose=0)
    for ours, theirs in zip(report["weights"], model.get_weights(), strict=True):
        np.testing.assert_allclose(np.array(ours, "float32"), theirs, rtol=1e-5, atol=1e-6)


# -- CUDA ------------------------------------------------------------------------------


@pytest.mark.cuda
def test_upload_converts_in_pieces_through_pinned_memory(monkeypatch) -> None:
    monkeypatch.setattr(data_utils, "UPLOAD_CHUNK_BYTES", 1000)  # many pieces
    host = torch.from_numpy(RNG.normal(size=(301, 7)))
    sent = data_utils.upload(host, torch.float32, torch.device("cuda"))
    assert sent.dtype == torch.float32 and sent.device.type == "cuda"
    np.testing.assert_array_equal(sent.cpu().numpy(), host.numpy().astype("float32"))


@pytest.mark.cuda
@pytest.mark.parametrize("shuffle", [False, True, "batch"])
def test_streamed_fit_on_cuda_trains_what_whole_data_trains(shuffle) -> None:
    def run(stream: bool):
        model = regression()
        model.to("cuda")
        return fitted(model, X, Y, shuffle=shuffle, stream=stream, validation_split=0.2)

    assert_same_training(run(True), run(False))
    model = regression()
    model.to("cuda")
    np.testing.assert_allclose(
        model.predict(X, stream=True), model.predict(X, stream=False), rtol=1e-6
    )
