"""``HDF5Matrix`` data is streamed from the file batch by batch, as Keras 1 read it.

Training on it must give what training on the same arrays in memory gives, read
contiguous slices with ``shuffle='batch'`` and sorted rows with ``shuffle=True``, and
fit under a memory limit several times smaller than the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.engine import data as data_utils
from lamella.hdf5.matrix import HDF5Matrix
from lamella.layers.core import Dense
from lamella.models import Sequential

RNG = np.random.default_rng(8)
X = RNG.normal(size=(90, 4)).astype("float32")
Y = RNG.normal(size=(90, 1)).astype("float32")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "data.h5"
    with h5py.File(file, "w") as handle:
        handle["x"], handle["y"] = X, Y
    return file


@pytest.fixture
def reads(monkeypatch) -> list[Any]:
    """Every key an HDF5Matrix is indexed with, and no file counts as small."""
    monkeypatch.delenv("LAMELLA_DATA_BUDGET", raising=False)
    K.reload_config()
    monkeypatch.setattr(data_utils, "SMALL_FILE_BYTES", 0)
    seen: list[Any] = []
    original = HDF5Matrix.__getitem__

    def recording(self: HDF5Matrix, key: Any) -> np.ndarray:
        seen.append(key.copy() if isinstance(key, np.ndarray) else key)
        return original(self, key)

    monkeypatch.setattr(HDF5Matrix, "__getitem__", recording)
    yield seen
    K.reload_config()


def model() -> Sequential:
    torch.manual_seed(0)
    built = Sequential([Dense(3, input_dim=4, activation="tanh"), Dense(1)])
    built.compile(optimizer=torch.optim.SGD(built.parameters(), lr=0.05), loss="mse")
    return built


def trained(x: Any, y: Any, **kwargs: Any) -> tuple[list[np.ndarray], dict]:
    net = model()
    torch.manual_seed(3)
    history = net.fit(x, y, batch_size=16, nb_epoch=2, verbose=0, **kwargs)
    return net.get_weights(), history.history


def assert_same(ours, theirs) -> None:
    for a, b in zip(ours[0], theirs[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours[1]["loss"], theirs[1]["loss"], rtol=1e-6)


def test_shuffle_batch_reads_contiguous_batches_and_trains_as_in_memory(path, reads) -> None:
    streamed = trained(HDF5Matrix(path, "x"), HDF5Matrix(path, "y"), shuffle="batch")
    assert_same(streamed, trained(X, Y, shuffle="batch"))
    assert reads and all(isinstance(key, slice) for key in reads)
    x_reads = reads[::2]  # x then y, batch by batch
    starts = [key.start for key in x_reads]
    assert sorted(starts[:6]) == list(range(0, 90, 16)) and starts[5] == 80  # the rest last
    assert all(key.stop - key.start == 16 for key in x_reads if key.start != 80)


def test_shuffle_true_reads_sorted_rows_warns_once_and_trains_as_in_memory(path, reads):
    with pytest.warns(UserWarning, match="HDF5Matrix data") as caught:
        streamed = trained(HDF5Matrix(path, "x"), HDF5Matrix(path, "y"), shuffle=True)
    assert len([w for w in caught if "scattered" in str(w.message)]) == 1
    assert_same(streamed, trained(X, Y, shuffle=True))
    assert all(isinstance(key, np.ndarray) and np.all(np.diff(key) > 0) for key in reads)
    first_epoch = np.concatenate(reads[:12:2])
    assert sorted(first_epoch.tolist()) == list(range(90))


def test_a_view_with_start_end_and_normalizer_predicts_and_evaluates(path, reads) -> None:
    net = model()
    W1, b1, W2, b2 = net.get_weights()
    x = HDF5Matrix(path, "x", start=10, end=80, normalizer=lambda rows: rows * 2)
    expected = np.tanh(X[10:80] * 2 @ W1 + b1) @ W2 + b2
    np.testing.assert_allclose(net.predict(x, batch_size=32), expected, rtol=1e-5, atol=1e-6)
    assert reads == [slice(0, 32), slice(32, 64), slice(64, 70)]  # rows of the view
    loss = net.evaluate(x, HDF5Matrix(path, "y", 10, 80), batch_size=32, verbose=0)
    np.testing.assert_allclose(loss, ((expected - Y[10:80]) ** 2).mean(), rtol=1e-5)


def test_validation_split_of_a_matrix_reads_the_tail_as_validation(path, reads) -> None:
    matrices = HDF5Matrix(path, "x"), HDF5Matrix(path, "y")
    streamed = trained(*matrices, validation_split=0.2, shuffle="batch")
    whole = trained(X, Y, validation_split=0.2, shuffle="batch")
    assert_same(streamed, whole)
    np.testing.assert_allclose(streamed[1]["val_loss"], whole[1]["val_loss"], rtol=1e-6)
    assert any(isinstance(key, slice) and key.start == 72 for key in reads)


def test_increasing_indices_read_once_others_put_in_order(path) -> None:
    matrix = HDF5Matrix(path, "x")
    np.testing.assert_array_equal(matrix[np.array([2, 5, 9])], X[[2, 5, 9]])
    np.testing.assert_array_equal(matrix[np.array([9, 2, 2])], X[[9, 2, 2]])


CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    from lamella.hdf5.matrix import HDF5Matrix
    from lamella.layers.core import Dense
    from lamella.models import Sequential

    x, y = HDF5Matrix(sys.argv[1], "x"), HDF5Matrix(sys.argv[1], "y")
    limit_mib = int(sys.argv[2])
    torch.manual_seed(0)
    model = Sequential([Dense(8, input_dim=x.shape[1], activation="tanh"), Dense(1)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.01), loss="mse")
    start = model.get_weights()
    head = HDF5Matrix(sys.argv[1], "x", end=2048), HDF5Matrix(sys.argv[1], "y", end=2048)
    model.fit(*head, batch_size=512, nb_epoch=1, verbose=0, stream=True)  # threads, allocator
    model.set_weights(start)
    with open("/proc/self/status") as handle:
        size = next(int(l.split()[1]) for l in handle if l.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + limit_mib * 2**20, resource.RLIM_INFINITY))
    torch.manual_seed(1)
    model.fit(x, y, batch_size=512, nb_epoch=1, verbose=0, shuffle="batch")
    weights = [w.tolist() for w in model.get_weights()]
    try:
        model.fit(x, y, batch_size=512, nb_epoch=1, verbose=0, stream=False)
        whole = "fitted"
    except MemoryError:
        whole = "MemoryError"
    print(json.dumps({"weights": weights, "whole": whole}))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
def test_a_matrix_larger_than_the_memory_limit_trains_as_in_memory(tmp_path: Path) -> None:
    """96 MiB of data, 32 MiB of address space to spare: the default settings stream it
    (reading it whole fails under the same limit), with the in-memory result."""
    rows, features, limit = 96 * 2**20 // 1024, 256, 32
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "big.h5", "w") as handle:
        x = handle.create_dataset("x", (rows, features), "float32")
        for start in range(0, rows, 16384):
            x[start : start + 16384] = rng.normal(size=(min(16384, rows - start), features))
        handle["y"] = rng.normal(size=(rows, 1)).astype("float32")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMELLA_")}
    env.update(LAMELLA_DEVICE="cpu", MALLOC_ARENA_MAX="2")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "big.h5"), str(limit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["whole"] == "MemoryError"  # the limit is real
    with h5py.File(tmp_path / "big.h5", "r") as handle:
        x, y = handle["x"][:], handle["y"][:]
    torch.manual_seed(0)
    net = Sequential([Dense(8, input_dim=features, activation="tanh"), Dense(1)])
    net.compile(optimizer=torch.optim.SGD(net.parameters(), lr=0.01), loss="mse")
    torch.manual_seed(1)
    net.fit(x, y, batch_size=512, nb_epoch=1, verbose=0, shuffle="batch")
    for ours, theirs in zip(report["weights"], net.get_weights(), strict=True):
        np.testing.assert_allclose(np.array(ours, "float32"), theirs, rtol=1e-5, atol=1e-6)
