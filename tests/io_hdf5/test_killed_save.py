"""A process killed (SIGKILL) in the middle of ``model.save`` over an existing file leaves
the old file or the new one, whole: never a file that does not load.  Its temporary file
is removed by the next save, so kills do not pile them up."""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lamella.layers.core import Dense
from lamella.models import Sequential, load_model

KILLS = 20


def _model(value: float) -> Sequential:
    model = Sequential([Dense(64, input_dim=64), Dense(64)], name="m")
    model.set_weights([np.full(w.shape, value, "float32") for w in model.get_weights()])
    return model


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")
def test_killed_save_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    models = [_model(1.0), _model(2.0)]
    models[0].save(path)
    chooser = random.Random(0)
    seen = set()
    cut_short = 0
    for _ in range(KILLS):
        # The child reports each finished save, so the kill is timed by its progress, not
        # by the clock: on a loaded machine it may not have run at all after 50 ms.
        finished, report = os.pipe()
        pid = os.fork()  # the child only serializes: no torch kernels run after the fork
        if pid == 0:
            try:
                os.close(finished)
                for turn in range(10_000):
                    models[turn % 2].save(path)
                    os.write(report, b".")
            finally:
                os._exit(0)
        os.close(report)
        with os.fdopen(finished, "rb", buffering=0) as progress:
            for _ in range(chooser.randint(1, 4)):  # the last whole file: either model
                assert progress.read(1) == b"."
            time.sleep(chooser.uniform(0.0, 0.004))  # then cut a later save short, or not
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        values = np.concatenate([w.ravel() for w in load_model(path, compile=False).get_weights()])
        assert values[0] in (1.0, 2.0) and np.all(values == values[0])
        seen.add(float(values[0]))
        left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(left) <= 1  # each save removed what the previous kill left
        cut_short += len(left)
    assert seen == {1.0, 2.0} and cut_short  # saves completed, and kills cut some short
    models[0].save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.h5"]
