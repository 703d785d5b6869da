"""Crafted files: each is refused with an error naming the file and the
reason, before any value is used, and nothing the file names is imported or run."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from lamella.hdf5.safety import UnsafeFileError
from lamella.layers.core import Dense
from lamella.models import Sequential, load_model

W_PATH = "model_weights/dense_1/dense_1_W"


def saved(tmp_path) -> str:
    """A good model.save file of Dense(2, input_dim=3), to be spoiled by each test."""
    path = str(tmp_path / "model.h5")
    Sequential([Dense(2, input_dim=3)]).save(path)
    return path


def load_whole(path):
    return load_model(path, compile=False)


def load_weights_only(path):
    Sequential([Dense(2, input_dim=3)]).load_weights(path)


LOADERS = pytest.mark.parametrize("load", [load_whole, load_weights_only])


def replace_w(path, make):
    """Swap the Dense kernel for what ``make(group, name)`` creates."""
    with h5py.File(path, "r+") as f:
        group, name = f["model_weights/dense_1"], "dense_1_W"
        del group[name]
        make(group, name)


# -- not HDF5 at all ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"not an HDF5 file, just text\n" * 10, b"\x89HDF\r\n\x1a\n" + b"\0" * 40],
    ids=["empty", "text", "bare-signature"],
)
@LOADERS
def test_files_that_are_not_hdf5_are_refused_naming_the_file(tmp_path, load, content):
    path = tmp_path / "fake.h5"
    path.write_bytes(content)
    with pytest.raises(OSError, match=r"fake\.h5.*not an HDF5 file"):
        load(str(path))


@LOADERS
def test_a_truncated_file_is_refused_naming_the_file(tmp_path, load):
    path = saved(tmp_path)
    with open(path, "rb") as f:
        head = f.read()
    with open(path, "wb") as f:
        f.write(head[: len(head) // 2])
    with pytest.raises(OSError, match=r"model\.h5.*truncated"):
        load(path)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_model(str(tmp_path / "absent.h5"))


# -- links, virtual and external data ------------------------------------------------------


@LOADERS
def test_soft_links_are_refused(tmp_path, load):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:  # the group moved elsewhere, a soft link in its place
        f.move("model_weights/dense_1", "elsewhere")
        f["model_weights/dense_1"] = h5py.SoftLink("/elsewhere")
    with pytest.raises(UnsafeFileError, match=r"model\.h5.*/model_weights/dense_1 is a soft link"):
        load(path)


@LOADERS
def test_external_links_are_refused_even_to_valid_data(tmp_path, load):
    path = saved(tmp_path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["W"] = np.ones((3, 2), "float32")
    replace_w(path, lambda group, name: group.__setitem__(name, h5py.ExternalLink(other, "/W")))
    with pytest.raises(
        UnsafeFileError, match=r"model\.h5.*/model_weights/dense_1/dense_1_W is an external link"
    ):
        load(path)


@LOADERS
def test_an_external_link_in_an_intermediate_path_part_is_refused(tmp_path, load):
    path = saved(tmp_path)
    other = tmp_path / "other.h5"
    with h5py.File(path, "r") as source, h5py.File(other, "w") as f:
        source.copy("model_weights/dense_1", f, "dense_1")
    with h5py.File(path, "r+") as f:
        del f["model_weights/dense_1"]
        f["model_weights/dense_1"] = h5py.ExternalLink(other, "/dense_1")
    with pytest.raises(UnsafeFileError, match="/model_weights/dense_1 is an external link"):
        load(path)


@LOADERS
def test_virtual_datasets_are_refused(tmp_path, load):
    path = saved(tmp_path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["W"] = np.ones((3, 2), "float32")

    def virtual(group, name):
        layout = h5py.VirtualLayout(shape=(3, 2), dtype="float32")
        layout[:] = h5py.VirtualSource(str(other), "W", shape=(3, 2))
        group.create_virtual_dataset(name, layout)

    replace_w(path, virtual)
    with pytest.raises(UnsafeFileError, match=r"dense_1_W is a virtual dataset"):
        load(path)


@LOADERS
def test_datasets_with_external_storage_are_refused(tmp_path, load):
    path = saved(tmp_path)
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones((3, 2), "float32").tobytes())
    replace_w(
        path,
        lambda group, name: group.create_dataset(
            name, shape=(3, 2), dtype="float32", external=[(str(raw), 0, 24)]
        ),
    )
    with pytest.raises(UnsafeFileError, match=r"dense_1_W keeps its data in external files"):
        load(path)


# -- sizes and types ------------------------------------------------------------------------


@pytest.mark.parametrize("where", [W_PATH, "unrelated/junk", "optimizer_weights/param_0"])
@LOADERS
def test_shape_bombs_are_refused_before_reading(tmp_path, load, where):
    """1e12 declared float32s (4 TB) in a file of a few KB: refused wherever they are."""
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        if where in f:
            del f[where]
        f.create_dataset(where, shape=(10**6, 10**6), dtype="float32", chunks=(1, 1024))
    with pytest.raises(UnsafeFileError, match=r"declares shape \(1000000, 1000000\)"):
        load(path)


def test_datasets_of_strings_are_refused(tmp_path):
    path = saved(tmp_path)
    replace_w(path, lambda group, name: group.create_dataset(name, data=["a", "b"]))
    with pytest.raises(UnsafeFileError, match="dense_1_W holds object values"):
        load_whole(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model_config", np.int64(5), "'model_config' of / must be a string, but it is a int64"),
        ("model_config", np.array([b"{}", b"{}"]), "'model_config' of / must be a string"),
        ("model_config", b"{not json", "'model_config' of / is not valid JSON"),
        ("model_config", b"[1, 2]", "model_config must be a JSON object"),
        ("model_config", b"\xff\xfe", "not UTF-8"),
        ("model_config", np.bytes_(b"\xff\xfe"), "not UTF-8"),
        ("training_config", np.float64(1.0), "'training_config' of / must be a string"),
    ],
)
def test_attributes_of_the_wrong_type_are_refused(tmp_path, key, value, message):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs[key] = value
    with pytest.raises(UnsafeFileError, match=message):
        load_model(path)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("model_weights", np.array([1, 2]), "'layer_names' of /model_weights must hold strings"),
        ("model_weights", b"dense_1", "'layer_names' of /model_weights must be a list"),
        ("model_weights/dense_1", np.array([[b"a"]]), "'weight_names' of /model_weights/dense_1"),
    ],
)
def test_name_lists_of_the_wrong_type_are_refused(tmp_path, where, value, message):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        key = "layer_names" if where == "model_weights" else "weight_names"
        f[where].attrs[key] = value
    with pytest.raises(UnsafeFileError, match=message):
        load_model(path, compile=False)


@LOADERS
def test_a_missing_weight_is_a_count_mismatch_naming_layer_and_counts(tmp_path, load):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        f["model_weights/dense_1"].attrs["weight_names"] = np.array([b"dense_1_W"])
    with pytest.raises(
        ValueError, match=r"model\.h5.*layer 'dense_\d' \(Dense\) has 2 weights.*'dense_1' holds 1"
    ):
        load(path)


@LOADERS
def test_a_wrong_shape_is_refused_naming_layer_and_shapes(tmp_path, load):
    path = saved(tmp_path)
    replace_w(path, lambda group, name: group.create_dataset(name, data=np.ones((4, 2), "f4")))
    with pytest.raises(
        ValueError, match=r"'dense_\d'.*'W' has shape \(3, 2\).*'dense_1' holds shape \(4, 2\)"
    ):
        load(path)


def test_a_listed_weight_without_its_dataset_is_refused(tmp_path):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        del f[W_PATH]
    with pytest.raises(ValueError, match="lists the weight 'dense_1_W', but holds no such dataset"):
        load_whole(path)


def test_a_hard_link_cycle_does_not_hang_the_check(tmp_path):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        f["model_weights/dense_1/loop"] = f["model_weights"]
    model = load_whole(path)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(model.layers[0].get_weights()[0], f[W_PATH][()])


# -- nothing a file names is run --------------------------------------------------------------


def sequential_config(layer: dict) -> bytes:
    return json.dumps({"class_name": "Sequential", "config": [layer]}).encode()


def test_a_class_name_never_imports_a_module(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    (tmp_path / "payload_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = saved(tmp_path)
    for name in ("payload_mod.Evil", "payload_mod>Evil", "builtins.eval"):
        with h5py.File(path, "r+") as f:
            f.attrs["model_config"] = sequential_config({"class_name": name, "config": {}})
        with pytest.raises(ValueError, match=r"model\.h5.*cannot rebuild"):
            load_model(path)
    assert "payload_mod" not in sys.modules and not marker.exists()


def lambda_file(tmp_path, marker) -> str:
    """A Keras 1 Lambda layer whose function is marshalled bytecode that writes ``marker``."""

    def payload(x):
        open(str(marker), "w").close()
        return x

    code = marshal.dumps(payload.__code__).decode("raw_unicode_escape")
    layer = {
        "class_name": "Lambda",
        "config": {"name": "lambda_1", "trainable": True, "batch_input_shape": [None, 3],
                   "function": code, "function_type": "lambda", "output_shape": None,
                   "output_shape_type": "raw", "arguments": {}},
    }  # fmt: skip
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        config = json.loads(sequential_config(layer))
        config["safe_mode"] = False  # a file cannot turn the switch off
        f.attrs["model_config"] = json.dumps(config).encode()
        f.attrs["safe_mode"] = b"False"
    return path


def test_safe_mode_refuses_stored_bytecode(tmp_path):
    marker = tmp_path / "ran"
    path = lambda_file(tmp_path, marker)
    with pytest.raises(UnsafeFileError, match=r"layer 'lambda_1' stores Python code"):
        load_model(path)
    with pytest.raises(UnsafeFileError, match="stores Python code"):
        load_model(path, safe_mode=True, compile=False)
    with pytest.raises(TypeError, match="safe_mode must be True or False"):
        load_model(path, safe_mode="False")
    assert not marker.exists()


def test_without_safe_mode_the_bytecode_is_still_never_run(tmp_path):
    """Core's Lambda refuses to rebuild a function from a config at all (for now)."""
    marker = tmp_path / "ran"
    with pytest.raises((NotImplementedError, ValueError)):
        load_model(lambda_file(tmp_path, marker), safe_mode=False)
    assert not marker.exists()


# -- what a load reads is bounded before anything is read (issue 17, item 2) ----------------


def big_chunked(group, name, elements=1 << 18):
    """1 MiB of float32 zeros that gzip keeps in a few KiB: within what a file of a few
    KiB may declare (64 times its size, plus 1 MiB), a bomb when repeated."""
    group.create_dataset(name, data=np.zeros(elements, "f4"), chunks=(1 << 16,), compression="gzip")


@pytest.fixture
def no_reads(monkeypatch):
    """Fail the test if any dataset's values are read."""
    reads: list[str] = []

    def refuse(dataset, *args):
        reads.append(dataset.name)
        raise AssertionError(f"{dataset.name} was read")

    monkeypatch.setattr(h5py.Dataset, "__getitem__", refuse)
    return reads


def weights_file(tmp_path) -> str:
    path = str(tmp_path / "w.h5")
    Sequential([Dense(3, input_dim=4)]).save_weights(path)
    return path


def test_a_weight_listed_many_times_is_refused_before_reading(tmp_path, no_reads):
    """The issue's reproduction, smaller (100 names, not 20,000): one 1 MiB dataset listed
    again and again made load_weights read 1 MiB per listing."""
    path = weights_file(tmp_path)
    with h5py.File(path, "r+") as f:
        group = f[f.attrs["layer_names"][0].decode()]
        for name in list(group):
            del group[name]
        big_chunked(group, "big")
        group.attrs["weight_names"] = np.array([b"big"] * 100)
    with pytest.raises(UnsafeFileError, match=r"w\.h5.*/dense_1.*lists 'big' 100 times"):
        Sequential([Dense(3, input_dim=4)]).load_weights(path)
    assert no_reads == []


def test_a_layer_listed_many_times_is_refused_before_reading(tmp_path, no_reads):
    path = weights_file(tmp_path)
    with h5py.File(path, "r+") as f:
        group = f["dense_1"]
        del group["dense_1_W"]
        big_chunked(group, "dense_1_W")
        f.attrs["layer_names"] = np.array([b"dense_1"] * 100)
    with pytest.raises(UnsafeFileError, match=r"w\.h5.*layer_names.*lists 'dense_1' 100 times"):
        Sequential([Dense(3, input_dim=4)]).load_weights(path)
    assert no_reads == []


def test_hard_links_cannot_multiply_what_a_load_reads(tmp_path, no_reads):
    """100 names, each a hard link to one 1 MiB dataset: no name repeats, but the load
    would read 100 MiB from a file of a few KiB."""
    path = weights_file(tmp_path)
    with h5py.File(path, "r+") as f:
        group = f["dense_1"]
        big_chunked(group, "big_0")
        for i in range(1, 100):
            group[f"big_{i}"] = group["big_0"]
        group.attrs["weight_names"] = np.array([f"big_{i}".encode() for i in range(100)])
    with pytest.raises(UnsafeFileError, match=r"w\.h5.*would read 104857600 bytes"):
        Sequential([Dense(3, input_dim=4)]).load_weights(path)
    assert no_reads == []


def test_the_total_a_file_declares_is_bounded_not_each_dataset(tmp_path):
    """Ten 1 MiB datasets, each within the file's allowance, together far over it."""
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        for i in range(10):
            big_chunked(f.require_group("unrelated"), f"junk_{i}")
    with pytest.raises(UnsafeFileError, match=r"model\.h5.*declare 104857\d\d bytes in all"):
        load_whole(path)


@LOADERS
def test_counts_are_compared_before_anything_is_read(tmp_path, load, monkeypatch):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights/dense_1"]
        group["extra"] = np.ones(2, "f4")
        group.attrs["weight_names"] = np.array([b"dense_1_W", b"dense_1_b", b"extra"])
    model = Sequential([Dense(2, input_dim=3)])  # built before reads are refused
    reads: list[str] = []
    monkeypatch.setattr(h5py.Dataset, "__getitem__", lambda d, *a: reads.append(d.name))
    with pytest.raises(ValueError, match=r"has 2 weights, but the file's group 'dense_1' holds 3"):
        load(path) if load is load_whole else model.load_weights(path)
    assert reads == []


def test_declared_shapes_are_compared_before_anything_is_read(tmp_path, monkeypatch):
    path = saved(tmp_path)
    replace_w(path, lambda group, name: group.create_dataset(name, data=np.ones((4, 2), "f4")))
    model = Sequential([Dense(2, input_dim=3)])
    reads: list[str] = []
    monkeypatch.setattr(h5py.Dataset, "__getitem__", lambda d, *a: reads.append(d.name))
    with pytest.raises(ValueError, match=r"'W' has shape \(3, 2\).*holds shape \(4, 2\)"):
        model.load_weights(path)
    assert reads == []


# -- a tiny config cannot declare a huge model (item 3) ------------------------------------


def test_a_small_file_declaring_a_huge_model_is_refused_before_building(tmp_path, monkeypatch):
    """A few KB declaring Dense(60000, input_dim=60000) allocated 14 GB before the weights
    were looked at; now the declared weights are counted without allocating them."""
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"][0]["config"].update(output_dim=60000, input_dim=60000,
                                             batch_input_shape=[None, 60000])  # fmt: skip
        f.attrs["model_config"] = json.dumps(config).encode()
    devices: list[str] = []
    real_build = Dense.build

    def spying_build(self, input_shape):
        devices.append(torch.empty(0).device.type)  # where this build's tensors go
        real_build(self, input_shape)

    monkeypatch.setattr(Dense, "build", spying_build)
    with pytest.raises(ValueError, match=r"model\.h5.*3,600,060,000 weight values.*hold 8"):
        load_model(path, compile=False)
    assert devices == ["meta"]  # counted on torch's meta device, never built for real


# -- all or nothing, and byte order (item 4) -------------------------------------------------


def two_layers() -> Sequential:
    return Sequential([Dense(3, input_dim=4, name="first"), Dense(2, name="second")])


def test_big_endian_arrays_load_with_their_values(tmp_path):
    """Files written elsewhere may keep '>f4'; torch refused them after earlier layers had
    already been overwritten."""
    source = two_layers()
    path = str(tmp_path / "be.h5")
    source.save_weights(path)
    with h5py.File(path, "r+") as f:
        for layer in ("first", "second"):
            for name in list(f[layer]):
                data = f[layer][name][()]
                del f[layer][name]
                f[layer].create_dataset(name, data=data.astype(">f4"))
        assert f["second/second_W"].dtype == np.dtype(">f4")
    target = two_layers()
    target.load_weights(path)
    for expected, got in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.float32


def test_a_load_that_fails_late_changes_no_weight(tmp_path):
    """The second layer's data is damaged: the first layer must keep its own weights."""
    path = str(tmp_path / "damaged.h5")
    two_layers().save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["second/second_W"]
        f["second"].create_dataset(
            "second_W", data=np.ones((3, 2), "f4"), chunks=(3, 2), compression="gzip"
        )
        offset = f["second/second_W"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xff" * 8)  # the compressed chunk no longer inflates
    model = two_layers()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(OSError, match=r"second_W of '.*damaged\.h5'.*damaged"):
        model.load_weights(path)
    for expected, got in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


# -- only regular files (item 8) -------------------------------------------------------------


PIPE_SCRIPT = """
import sys
from lamella.hdf5 import reader
from lamella.layers.core import Dense
from lamella.models import Sequential
try:
    if sys.argv[2] == "load_model":
        reader.load_model(sys.argv[1])
    else:
        reader.load_weights(Sequential([Dense(2, input_dim=3)]), sys.argv[1])
except OSError as exc:
    print(exc)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("action", ["load_model", "load_weights"])
def test_a_named_pipe_is_refused_instead_of_waiting_forever(tmp_path, action):
    """h5py blocks in open() holding the GIL, so the attempt runs in a child Python, which
    calls the serializer directly (``lamella summary`` does too)."""
    pipe = tmp_path / "pipe.h5"
    os.mkfifo(pipe)
    try:
        result = subprocess.run(
            [sys.executable, "-c", PIPE_SCRIPT, str(pipe), action],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading a named pipe blocked")
    assert result.returncode == 0, result.stderr
    assert "pipe.h5" in result.stdout and "not a regular file (it is a named pipe)" in result.stdout


# -- bounded quotes (item 6) -------------------------------------------------------------------


def test_a_huge_name_in_a_file_is_quoted_short(tmp_path):
    path = saved(tmp_path)
    with h5py.File(path, "r+") as f:
        f["model_weights/dense_1"].attrs["weight_names"] = np.array([b"w" * 60000, b"dense_1_b"])
    with pytest.raises(ValueError, match="holds no such dataset") as caught:
        load_whole(path)
    assert len(str(caught.value)) < 1000
