"""A dataset file of one's own cannot make a loader allocate far more than it holds
(issue 17, item 11): numpy allocates what an array's header declares before reading."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from lamella.preproc.datasets import mnist


def npy_header(shape: tuple[int, ...], dtype: str = "|u1") -> bytes:
    """A version 1.0 .npy header declaring ``shape`` of ``dtype``, padded as numpy pads."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    total = 10 + len(text) + 1
    text += " " * (-total % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


def small(name: str, array: np.ndarray) -> tuple[str, bytes]:
    return name, npy_header(array.shape, array.dtype.str) + array.tobytes()


def write_npz(path, members) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(f"{name}.npy", data)


def test_an_archive_declaring_gigabytes_is_refused_before_numpy_allocates(tmp_path):
    """A few KB declaring x_train of 3e9 bytes: refused naming the sizes, not read."""
    path = tmp_path / "mnist.npz"
    write_npz(
        path,
        [
            ("x_train", npy_header((3_000_000_000,)) + bytes(1000)),
            small("y_train", np.zeros(3, np.uint8)),
            small("x_test", np.zeros((1, 28, 28), np.uint8)),
            small("y_test", np.zeros(1, np.uint8)),
        ],
    )
    assert path.stat().st_size < 5000
    with pytest.raises(ValueError, match=r"mnist\.npz.*declares 3000000\d\d\d bytes of arrays"):
        mnist.load_data(path=str(path))


def test_a_compressed_archive_of_ones_own_within_the_bound_still_loads(tmp_path):
    """Zeros compress about 1000 to 1: a small honest archive stays within the allowance."""
    path = tmp_path / "mnist.npz"
    np.savez_compressed(
        path,
        x_train=np.zeros((600, 28, 28), np.uint8),
        y_train=(np.arange(600) % 10).astype(np.uint8),
        x_test=np.ones((100, 28, 28), np.uint8),
        y_test=(np.arange(100) % 10).astype(np.uint8),
    )
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=str(path))
    assert x_train.shape == (600, 28, 28) and int(x_test.sum()) == 100 * 28 * 28
    np.testing.assert_array_equal(y_train, np.arange(600) % 10)
    np.testing.assert_array_equal(y_test, np.arange(100) % 10)
