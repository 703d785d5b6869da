"""Data-parallel fit/evaluate/predict: two gloo processes against one process.

Two ranks with per-process batch b cut the same permutation as one process with
batch 2b, and with plain SGD the averaged gradient is that batch's gradient, so
the weights, the training and validation values and the predictions must match.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lamella.hdf5")  # ModelCheckpoint writes .h5

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import torch
    from lamella.callbacks import CSVLogger, LambdaCallback, ModelCheckpoint

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from case import build, data

    out = sys.argv[1]
    rank = int(os.environ["RANK"])

    class Recorded(ModelCheckpoint):
        def _save(self, filepath):
            with open(os.path.join(out, "saves.txt"), "a") as file:
                file.write(f"{rank}\\n")
            super()._save(filepath)

    x, y, xv, yv = data()
    model = build()
    history = model.fit(
        x, y, batch_size=8, nb_epoch=3, verbose=2, validation_data=(xv, yv),
        callbacks=[
            Recorded(os.path.join(out, "ckpt.h5"), save_weights_only=True),
            CSVLogger(os.path.join(out, "log.csv")),
        ],
    )
    result = {
        "history": history.history,
        "weights": [w.tolist() for w in model.get_weights()],
        "evaluate": model.evaluate(xv, yv, batch_size=4, verbose=0),
        "predict": model.predict(xv, batch_size=4).tolist(),
    }
    stop_on_one = LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", rank == 1 and epoch == 1)
    )
    result["stopped_after"] = len(
        model.fit(x, y, batch_size=8, nb_epoch=5, verbose=0, callbacks=[stop_on_one]).epoch
    )
    with open(os.path.join(out, f"rank{rank}.json"), "w") as file:
        json.dump(result, file)
    """
)

CASE = textwrap.dedent(
    """
    import numpy as np
    import torch
    from lamella.layers import Dense
    from lamella.models import Sequential
    from lamella.optimizers import SGD

    def data():
        rng = np.random.default_rng(3)
        x = rng.normal(size=(52, 5)).astype("float32")  # 52: the last global batch is short
        y = np.eye(3, dtype="float32")[rng.integers(0, 3, 52)]
        xv = rng.normal(size=(21, 5)).astype("float32")  # 21: the ranks' shares differ
        yv = np.eye(3, dtype="float32")[rng.integers(0, 3, 21)]
        return x, y, xv, yv

    def build():
        torch.manual_seed(0)
        model = Sequential()
        model.add(Dense(8, input_dim=5, activation="tanh"))
        model.add(Dense(3, activation="softmax"))
        model.compile(SGD(lr=0.5), "categorical_crossentropy", metrics=["accuracy"], device="cpu")
        return model
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(folder: Path, worker: str, world: int = 2, timeout: float = 120.0) -> list:
    """Start ``world`` ranks as torchrun would (its variables), kill them all on timeout;
    each rank's ``(returncode, output)``."""
    (folder / "worker.py").write_text(worker)
    base = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "WORLD_SIZE": str(world),
        "LAMELLA_DISTRIBUTED": "1",
        "LAMELLA_DISTRIBUTED_TIMEOUT": "30",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",  # a rank that dies still shows how far it got
        "PYTHONFAULTHANDLER": "1",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, str(folder / "worker.py"), str(folder)],
            env={**base, "RANK": str(r), "LOCAL_RANK": str(r), "LOCAL_WORLD_SIZE": str(world)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in range(world)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return [(proc.returncode, output) for proc, output in zip(procs, outputs, strict=True)]


def _launch(folder: Path) -> list[str]:
    """Run WORKER on two ranks; both must succeed."""
    results = _start(folder, WORKER)
    for returncode, output in results:
        assert returncode == 0, output
    return [output for _, output in results]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[dict]]:
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "case.py").write_text(CASE)
    outputs = _launch(folder)
    results = [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]
    return folder, outputs, results


@pytest.fixture(scope="module")
def reference(run: tuple[Path, list[str], list[dict]]) -> dict:
    """The same training in this one process, on the global batches of 16."""
    sys.path.insert(0, str(run[0]))
    try:
        from case import build, data  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    x, y, xv, yv = data()
    model = build()
    history = model.fit(x, y, batch_size=16, nb_epoch=3, verbose=0, validation_data=(xv, yv))
    return {
        "history": history.history,
        "weights": model.get_weights(),
        "evaluate": model.evaluate(xv, yv, batch_size=4, verbose=0),
        "predict": model.predict(xv, batch_size=4),
    }


def test_weights_match_one_process_on_the_global_batches(run, reference) -> None:
    for result in run[2]:
        for got, want in zip(result["weights"], reference["weights"], strict=True):
            np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


def test_training_and_validation_values_are_averaged_over_ranks(run, reference) -> None:
    for result in run[2]:
        assert set(result["history"]) == set(reference["history"])
        for name, values in reference["history"].items():
            np.testing.assert_allclose(result["history"][name], values, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(result["evaluate"], reference["evaluate"], atol=1e-5)


def test_predict_returns_all_rows_on_every_rank(run, reference) -> None:
    for result in run[2]:
        np.testing.assert_allclose(np.asarray(result["predict"]), reference["predict"], atol=1e-5)


def test_only_rank_zero_prints_and_writes(run) -> None:
    folder, outputs, _ = run
    assert outputs[0].count("Epoch 1/3") == 1 and "Epoch 3/3" in outputs[0]
    assert "Epoch" not in outputs[1]
    assert (folder / "saves.txt").read_text().split() == ["0", "0", "0"]
    assert [p.name for p in folder.glob("*.h5")] == ["ckpt.h5"]
    assert len((folder / "log.csv").read_text().splitlines()) == 4  # header and 3 epochs


def test_a_stop_on_one_rank_stops_all(run) -> None:
    assert [result["stopped_after"] for result in run[2]] == [2, 2]


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from lamella.callbacks import LambdaCallback

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from case import build, data

    def die_on_rank_one(batch, logs):
        if os.environ["RANK"] == "1" and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    x, y, _, _ = data()
    build().fit(np.tile(x, (8, 1)), np.tile(y, (8, 1)), batch_size=8, nb_epoch=50, verbose=0,
                callbacks=[LambdaCallback(on_batch_end=die_on_rank_one)])
    """
)


def test_a_killed_rank_makes_the_other_fail_clearly_not_hang(tmp_path: Path) -> None:
    (tmp_path / "case.py").write_text(CASE)
    started = time.monotonic()
    (code0, output0), (code1, _) = _start(tmp_path, KILLED, timeout=100)
    assert code1 == -signal.SIGKILL
    assert code0 == 1, output0  # an exception, not the launcher's kill on timeout
    assert "rank 0: data-parallel training lost another process" in output0
    assert time.monotonic() - started < 100


def test_only_backend_failures_are_reworded(monkeypatch) -> None:
    from lamella.engine.distributed import PeerLostError, explain_failure

    monkeypatch.setenv("LAMELLA_DISTRIBUTED_TIMEOUT", "45")
    plain = RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    assert explain_failure(plain) is plain
    lost = explain_failure(RuntimeError("[gloo/pair.cc:537] Connection reset by peer"))
    assert isinstance(lost, PeerLostError)
    assert "LAMELLA_DISTRIBUTED_TIMEOUT (45 s)" in str(lost) and "Connection reset" in str(lost)
