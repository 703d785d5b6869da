"""``lamella.utils.io_utils.HDF5Matrix`` indexes like the numpy array it was written from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from lamella.layers.core import Dense
from lamella.models import Sequential
from lamella.utils.io_utils import HDF5Matrix

DATA = np.random.default_rng(5).normal(size=(20, 3)).astype("float32")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "data.h5"
    with h5py.File(file, "w") as f:
        f.create_dataset("x", data=DATA)
    return file


def test_rows_start_to_end_index_like_numpy(path: Path) -> None:
    matrix = HDF5Matrix(path, "x", start=4, end=14)
    view = DATA[4:14]
    assert len(matrix) == 10 and matrix.shape == (10, 3) and matrix.ndim == 2
    np.testing.assert_array_equal(matrix[2], view[2])
    np.testing.assert_array_equal(matrix[-1], view[-1])
    np.testing.assert_array_equal(matrix[1:7:2], view[1:7:2])
    np.testing.assert_array_equal(matrix[[5, 0, 5, 9]], view[[5, 0, 5, 9]])  # any order
    np.testing.assert_array_equal(matrix[np.array([3, 1])], view[[3, 1]])
    np.testing.assert_array_equal(np.asarray(matrix), view)
    with pytest.raises(IndexError):
        matrix[10]
    with pytest.raises(IndexError):
        matrix[[0, 10]]


def test_normalizer_is_applied_to_what_is_read(path: Path) -> None:
    matrix = HDF5Matrix(path, "x", normalizer=lambda rows: rows * 2)
    np.testing.assert_allclose(matrix[3:5], DATA[3:5] * 2)


def test_a_model_predicts_from_a_matrix(path: Path) -> None:
    model = Sequential([Dense(2, input_dim=3)])
    W, b = model.get_weights()
    np.testing.assert_allclose(
        model.predict(HDF5Matrix(path, "x", end=8)), DATA[:8] @ W + b, rtol=1e-5, atol=1e-6
    )


def test_missing_dataset_is_named(path: Path) -> None:
    with pytest.raises(ValueError, match="'y'"):
        HDF5Matrix(path, "y")


def test_without_io_hdf5_the_message_names_the_package() -> None:
    code = "from lamella.utils.io_utils import HDF5Matrix"
    blocker = (
        "import sys; sys.modules['lamella.hdf5'] = sys.modules['lamella.hdf5.matrix'] = None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocker + code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "lamella-io-hdf5" in result.stderr
