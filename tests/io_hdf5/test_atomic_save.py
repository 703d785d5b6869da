"""Where a save writes: through a symbolic link, and never leaving the temporary files of
killed saves to pile up (issue 17, item 11)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lamella.layers.core import Dense
from lamella.models import Sequential, load_model
from lamella.utils import atomic


def model_of(value: float) -> Sequential:
    model = Sequential([Dense(32, input_dim=32)], name="m")
    model.set_weights([np.full(w.shape, value, "float32") for w in model.get_weights()])
    return model


def value_in(path: Path) -> float:
    return float(load_model(str(path), compile=False).get_weights()[0][0, 0])


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- symbolic links -----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
@pytest.mark.parametrize("what", ["save", "save_weights"])
def test_saving_to_a_symbolic_link_writes_the_file_it_names(tmp_path, what):
    """As h5py (and so Keras) did: the link stays a link, its target gets the new file."""
    real_folder, link_folder = tmp_path / "store", tmp_path / "models"
    real_folder.mkdir()
    link_folder.mkdir()
    real, link = real_folder / "model.h5", link_folder / "current.h5"
    getattr(model_of(1.0), what)(str(real))
    link.symlink_to(os.path.relpath(real, link_folder))
    getattr(model_of(2.0), what)(str(link))
    assert link.is_symlink()
    assert os.readlink(link) == os.path.relpath(real, link_folder)
    loaded = model_of(0.0)
    loaded.load_weights(str(real))
    assert loaded.get_weights()[0][0, 0] == 2.0
    assert temporaries(real_folder) == [] and temporaries(link_folder) == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_dangling_link_is_written_through_too(tmp_path):
    link = tmp_path / "current.h5"
    link.symlink_to("first.h5")
    model_of(3.0).save(str(link))
    assert link.is_symlink() and value_in(tmp_path / "first.h5") == 3.0


# -- temporary files of killed saves ------------------------------------------------------


def killed_mid_save(path: Path) -> None:
    """Fork a process that saves ``path`` over and over; SIGKILL it while it writes."""
    model = model_of(5.0)
    for _ in range(50):
        pid = os.fork()
        if pid == 0:
            try:
                while True:
                    model.save(str(path))
            finally:
                os._exit(0)
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if temporaries(path.parent):
            return
    pytest.fail("no kill landed in the middle of a save")


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")
def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "model.h5"
    model_of(1.0).save(str(path))
    killed_mid_save(path)
    assert len(temporaries(tmp_path)) == 1  # empty or half written, as the kill fell
    model_of(2.0).save(str(path))
    assert temporaries(tmp_path) == []
    assert value_in(path) == 2.0


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")
def test_a_save_under_way_in_another_process_is_left_alone(tmp_path):
    """A live process's temporary file is its save in progress: never removed."""
    path = tmp_path / "model.h5"
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a save that has begun writing and takes its time
        try:
            with atomic.replacing(path) as temp:
                Path(temp).write_bytes(b"half written")
                os.write(ready_write, b"1")
                time.sleep(60)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_read, 1) == b"1"
        (theirs,) = temporaries(tmp_path)
        model_of(2.0).save(str(path))
        assert temporaries(tmp_path) == [theirs]
        assert (tmp_path / theirs).read_bytes() == b"half written"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_read)
        os.close(ready_write)
    model_of(3.0).save(str(path))  # now it is a dead process's leftover
    assert temporaries(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")
def test_only_this_targets_leftovers_of_this_machine_are_removed(tmp_path):
    path = tmp_path / "model.h5"
    killed_mid_save(path)
    (ours,) = temporaries(tmp_path)
    dead_pid = int(ours.split(".")[-3].rsplit("-", 1)[1])
    others = [
        ours.replace("model.h5", "other.h5"),  # another target in the same folder
        ours.replace(f"-{dead_pid}.", "-elsewhere-1."),  # another machine's: cannot tell
        ".model.h5.notes.tmp",  # not a name lamella makes
        "model.h5.tmp",
    ]
    for name in others:
        (tmp_path / name).write_bytes(b"keep me")
    model_of(2.0).save(str(path))
    assert temporaries(tmp_path) == sorted(others)
