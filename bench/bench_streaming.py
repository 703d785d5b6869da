"""Streaming data that does not fit: its speed against the whole-data path, and its memory.

Cases:

- **CNN fit, streamed vs whole**: the CNN of bench_cnn.py ('th' ordering, 1024 random
  28x28 images, batch 128, default ``shuffle=True``) trained one epoch per call with
  ``fit(..., stream=True)`` (batches read from the numpy arrays on a feeder thread,
  converted, and on CUDA sent through pinned buffers) and with ``stream=False`` (the
  arrays put whole on the device first, as every call did before streaming existed), on
  the same model, alternating; the ratio is streamed over whole.  Goal: >= 0.9x.  A second
  record feeds float64 arrays, which each path converts to float32: whole once per call,
  streamed per batch.
- **HDF5Matrix fit**: the same CNN on the same data in an HDF5 file, one epoch with
  ``shuffle='batch'`` through ``HDF5Matrix`` (streamed), against a hand-written loop that
  reads each batch's contiguous rows from the file with h5py in a random batch order, makes
  tensors of them and trains ``TorchCNN`` (the torch contender of bench_cnn.py).  Needs
  lamella-io-hdf5 (h5py); skipped without it.
- **Peak memory**: in child processes, one epoch of a small MLP on a memory-mapped float32
  file (``np.load(mmap_mode='r')``, ``--memmap-mb``) with ``LAMELLA_DATA_BUDGET`` set to
  ``--budget-mb``, and one on an HDF5Matrix file of ``--hdf5-mb`` (1.6 GB by default, the
  size issue 21 names).  A thread samples the process's anonymous resident memory
  (``RssAnon``: what the process allocated, not the file's pages that a memory map shows
  in RSS); the record is its peak above the value just before ``fit``.  The whole-data
  path on the same memory map is measured too, for contrast.  Linux only.

    python bench/bench_streaming.py [--samples 1024] [--rounds 11] [--device cpu]
        [--memmap-mb 512] [--budget-mb 32] [--hdf5-mb 1600]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_cnn import BATCH, TorchCNN, lamella_cnn
from harness import Bench, Contender, Record, parser, summarize

HERE = Path(__file__).resolve().parent


def fit(model, x, y, stream: bool, shuffle: bool | str = True) -> Contender:
    def run() -> None:
        model.fit(x, y, batch_size=BATCH, nb_epoch=1, verbose=0, shuffle=shuffle, stream=stream)

    return Contender("streamed" if stream else "whole", run, len(x))


def streamed_against_whole(bench: Bench, args) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 1, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
    torch.manual_seed(0)
    model = lamella_cnn("th")
    model.to(args.device)
    for case, data in (("CNN fit streamed", x), ("CNN fit streamed (float64)", x.astype("f8"))):
        contenders = [fit(model, data, y, stream=True), fit(model, data, y, stream=False)]
        times = bench.alternate(contenders, args.device)
        record = summarize(case, contenders, times, goal=0.9 if data is x else None)
        record.note = (
            f"ratio streamed / whole-data {record.ratios['whole']:.3f}x (median of "
            f"{record.rounds} paired rounds); {args.device}"
        )
        bench.add(record)


def hdf5_against_h5py_loop(bench: Bench, args) -> None:
    try:
        import h5py

        from lamella.utils.io_utils import HDF5Matrix
    except ImportError as exc:
        print(f"note: HDF5Matrix case skipped ({exc})")
        return
    rng = np.random.default_rng(1)
    x = rng.random((args.samples, 1, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.h5")
        with h5py.File(path, "w") as handle:
            handle["x"], handle["y"] = x, y
        torch.manual_seed(0)
        ours = lamella_cnn("th")
        ours.to(args.device)
        matrices = HDF5Matrix(path, "x"), HDF5Matrix(path, "y")
        lamella = fit(ours, *matrices, stream=True, shuffle="batch")
        lamella.name = "lamella"
        theirs = TorchCNN(channels_last=False).to(args.device)
        optimizer = torch.optim.SGD(theirs.parameters(), lr=0.01)
        with h5py.File(path, "r") as handle:
            loop = h5py_loop(theirs, optimizer, handle["x"], handle["y"], args.device)
            contenders = [lamella, Contender("torch", loop, len(x))]
            times = bench.alternate(contenders, args.device)
        record = summarize("HDF5Matrix fit (shuffle='batch')", contenders, times)
        record.note = (
            "lamella streams an HDF5Matrix; (b) reads the same contiguous batches with h5py "
            "in a random batch order and trains TorchCNN on them"
        )
        bench.add(record)


def h5py_loop(model, optimizer, x, y, device: str):
    """The hand-written contender: one epoch over an h5py dataset, batch by batch."""
    count = len(x)
    starts = list(range(0, count, BATCH))

    def epoch() -> None:
        model.train()
        for index in torch.randperm(len(starts)).tolist():
            start = starts[index]
            xb = torch.from_numpy(x[start : start + BATCH]).to(device, non_blocking=True)
            yb = torch.from_numpy(y[start : start + BATCH]).to(device, non_blocking=True)
            value = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()

    return epoch


#: The child process of the memory records: one epoch, its memory sampled on a thread.
MEMORY_CHILD = textwrap.dedent(
    """
    import json, resource, sys, threading, time
    import numpy as np, torch
    from lamella.layers import Dense
    from lamella.models import Sequential

    kind, path, stream = sys.argv[1], sys.argv[2], {"auto": None, "whole": False}[sys.argv[3]]
    torch.set_num_threads(2)

    def anonymous_kib():
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])

    if kind == "memmap":
        x = np.load(path, mmap_mode="r")
        y = np.zeros((len(x), 1), "float32")
    else:
        from lamella.utils.io_utils import HDF5Matrix
        x, y = HDF5Matrix(path, "x"), HDF5Matrix(path, "y")
    model = Sequential([Dense(16, input_dim=x.shape[1], activation="relu"), Dense(1)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=1e-3), loss="mse")
    model.fit(x[:512], y[:512], batch_size=128, nb_epoch=1, verbose=0)  # threads, allocator
    before, peak, done = anonymous_kib(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anonymous_kib())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, nb_epoch=1, verbose=0, stream=stream)
    took = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], anonymous_kib())
    print(json.dumps({
        "before_mib": before / 1024,
        "growth_mib": (peak[0] - before) / 1024,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": took,
    }))
    """
)


def child(kind: str, path: str, mode: str, budget_mb: int | None) -> dict:
    """One child's memory record; ``budget_mb=None`` keeps the default data_budget."""
    env = {k: v for k, v in os.environ.items() if k != "LAMELLA_DATA_BUDGET"}
    env["LAMELLA_DEVICE"] = "cpu"
    if budget_mb is not None:
        env["LAMELLA_DATA_BUDGET"] = f"{budget_mb}MiB"
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, kind, path, mode],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def blocks(total_mb: int, features: int):
    """Random float32 rows of ``features`` values, ``total_mb`` MiB in all, as
    ``(first row, block)`` pieces, so no process holds the whole file."""
    rows = total_mb * 2**20 // (4 * features)
    rng = np.random.default_rng(2)
    for start in range(0, rows, 8192):
        yield start, rng.random((min(8192, rows - start), features), dtype=np.float32)


def peak_memory(bench: Bench, args) -> None:
    if not os.path.exists("/proc/self/status"):
        print("note: peak memory records need Linux's /proc; skipped")
        return
    features = 1024
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.npy")
        rows = args.memmap_mb * 2**20 // (4 * features)
        stored = np.lib.format.open_memmap(path, "w+", "float32", (rows, features))
        for at, block in blocks(args.memmap_mb, features):
            stored[at : at + len(block)] = block
        stored.flush()
        del stored
        streamed = child("memmap", path, "auto", args.budget_mb)
        whole = child("memmap", path, "whole", args.budget_mb)
    bench.add(
        Record(
            f"memmap fit, {args.memmap_mb} MiB, peak memory",
            "MiB",
            {"lamella": streamed["growth_mib"], "whole": whole["growth_mib"]},
            {},
            1,
            note=(
                f"anonymous memory over the value before fit; data_budget {args.budget_mb} MiB;"
                f" streamed {streamed['growth_mib']:.1f} MiB in {streamed['seconds']:.1f} s, "
                f"whole-data path (stream=False) {whole['growth_mib']:.1f} MiB in "
                f"{whole['seconds']:.1f} s; ru_maxrss (counts the file's mapped pages) "
                f"{streamed['maxrss_mib']:.0f} / {whole['maxrss_mib']:.0f} MiB"
            ),
        )
    )
    try:
        import h5py
    except ImportError:
        print("note: HDF5 memory record skipped (h5py missing)")
        return
    if not args.hdf5_mb:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.h5")
        rows = args.hdf5_mb * 2**20 // (4 * features)
        with h5py.File(path, "w") as handle:
            x = handle.create_dataset("x", (rows, features), "float32")
            handle["y"] = np.zeros((rows, 1), "float32")
            for at, block in blocks(args.hdf5_mb, features):
                x[at : at + len(block)] = block
        streamed = child("hdf5", path, "auto", None)
    limit = 400
    bench.add(
        Record(
            f"HDF5Matrix fit, {args.hdf5_mb} MiB, peak memory",
            "MiB",
            {"lamella": streamed["growth_mib"]},
            {},
            1,
            goal_text=f"<= {limit} MiB over baseline",
            met=streamed["growth_mib"] <= limit,
            note=(
                f"anonymous memory over the value before fit, default data_budget; one epoch "
                f"in {streamed['seconds']:.1f} s; ru_maxrss {streamed['maxrss_mib']:.0f} MiB "
                f"(baseline {streamed['before_mib']:.0f} MiB anonymous)"
            ),
        )
    )


def main() -> None:
    options = parser(__doc__, rounds=11, samples=1024, device=True)
    options.add_argument("--memmap-mb", type=int, default=512)
    options.add_argument("--budget-mb", type=int, default=32)
    options.add_argument("--hdf5-mb", type=int, default=1600, help="0 leaves the case out")
    options.add_argument("--no-memory", action="store_true", help="leave the memory cases out")
    args = options.parse_args()
    title = f"Streaming on {args.device}, {args.samples} samples, batch {BATCH}"
    with Bench(title, args) as bench:
        streamed_against_whole(bench, args)
        hdf5_against_h5py_loop(bench, args)
        if not args.no_memory:
            peak_memory(bench, args)


if __name__ == "__main__":
    main()
