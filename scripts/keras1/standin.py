"""Run one Keras 1 example on small generated data: ``python standin.py EXAMPLE.py``.

In this process only, after aliasing ``keras`` to lamella:

- ``lamella.datasets.<mnist|cifar10|cifar100|imdb|reuters>.load_data`` return random
  samples with the published shapes, dtypes and value ranges, every class present: a few
  hundred, or the published counts where code reshapes to them (``install_datasets``);
- ``lamella.utils.data_utils.get_file`` writes generated stand-ins, in the working folder, for
  the files the examples fetch (``nietzsche.txt``, the bAbI archive); other names are an error;
- ``Model.fit`` / ``fit_generator`` run at most ``KERAS1_MAX_EPOCHS`` epochs (default 2), and
  ``fit`` / ``evaluate`` see at most ``KERAS1_MAX_SAMPLES`` samples (default 512, a whole
  number of batches): MNIST comes at its published size because examples reshape it to
  (60000, 784), and some examples generate large data themselves; ``0`` leaves either as
  written;
- ``matplotlib`` / ``pylab``, when not installed, do nothing (examples plot after training).
"""

from __future__ import annotations

import functools
import inspect
import io
import os
import runpy
import sys
import tarfile
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__":  # run as a script: import the keras1 package, not its modules
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from keras1 import alias, compat

SMALL = (300, 100)
# (train, test) counts of the published datasets, for code that reshapes to them.
PUBLISHED = {"mnist": (60000, 10000), "cifar": (50000, 10000), "imdb": (25000, 25000)}
PUBLISHED["reuters"] = (8982, 2246)
sizes: dict[str, tuple[int, int]] = {}
rng = np.random.default_rng(0)


def _labels(n: int, classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % classes)


def _mnist(*args: Any, **kwargs: Any) -> Any:
    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        return images, _labels(n, 10).astype(np.uint8)

    n_train, n_test = sizes.get("mnist", SMALL)
    return split(n_train), split(n_test)


def _cifar(classes: int) -> Any:
    from lamella import backend as K

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        if K.image_dim_ordering() == "tf":
            images = images.transpose(0, 2, 3, 1)
        return images, _labels(n, classes).astype(np.uint8).reshape(n, 1)

    n_train, n_test = sizes.get("cifar", SMALL)
    return split(n_train), split(n_test)


def _sequences(
    name: str,
    classes: int,
    path: str = "",
    nb_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    *args: Any,
    **kw: Any,
) -> Any:
    """Word-index lists as Keras 1 returns them: start char, then indices >= index_from."""
    start, index_from = kw.get("start_char", 1), kw.get("index_from", 3)
    top = nb_words or 5000

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        longest = maxlen - 2 if maxlen else 300
        texts = np.empty(n, dtype=object)
        for i in range(n):
            words = rng.integers(index_from, top, rng.integers(1, longest + 1)).tolist()
            texts[i] = [start, *words] if start is not None else words
        return texts, _labels(n, classes)

    n_train, n_test = sizes.get(name, SMALL)
    return split(n_train), split(n_test)


def _nietzsche(path: Path) -> None:
    words = ["the", "will", "to", "power", "is", "a", "free", "spirit", "beyond", "good", "evil"]
    sentences = (" ".join(rng.choice(words, 12)).capitalize() + "." for _ in range(300))
    path.write_text(" ".join(sentences))


def _babi_task(stories: int, people: list[str], places: list[str]) -> bytes:
    lines = []
    for _ in range(stories):
        where: dict[str, tuple[str, int]] = {}
        for nid in range(1, 6):
            who, place = rng.choice(people), rng.choice(places)
            where[who] = (place, nid)
            lines.append(f"{nid} {who} went to the {place}.")
        who = rng.choice(list(where))
        lines.append(f"6 Where is {who}? \t{where[who][0]}\t{where[who][1]}")
    return ("\n".join(lines) + "\n").encode()


def _babi(path: Path) -> None:
    people, places = (
        ["Mary", "John", "Sandra", "Daniel"],
        ["kitchen", "garden", "office", "hallway"],
    )
    tasks = ["qa1_single-supporting-fact", "qa2_two-supporting-facts"]
    with tarfile.open(path, "w:gz") as tar:
        for folder in ("en", "en-10k"):
            for task in tasks:
                for part, stories in (("train", 200), ("test", 50)):
                    data = _babi_task(stories, people, places)
                    info = tarfile.TarInfo(f"tasks_1-20_v1-2/{folder}/{task}_{part}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


FILES = {"nietzsche.txt": _nietzsche, "babi-tasks-v1-2.tar.gz": _babi}


def get_file(fname: str, origin: str = "", *args: Any, **kwargs: Any) -> str:
    if fname not in FILES:
        raise RuntimeError(f"keras1 stand-in: nothing stands in for get_file({fname!r}, {origin})")
    path = Path.cwd() / fname
    if not path.exists():
        FILES[fname](path)
    return str(path)


def _head(data: Any, n: int) -> Any:
    if isinstance(data, np.ndarray) and len(data) > n:
        return data[:n]
    if isinstance(data, list | tuple):
        return type(data)(_head(d, n) for d in data)
    if isinstance(data, dict):
        return {k: _head(v, n) for k, v in data.items()}
    return data


def _capped(method: Any, trim: bool) -> Any:
    signature = inspect.signature(method)
    max_epochs = int(os.environ.get("KERAS1_MAX_EPOCHS", "2"))
    max_samples = int(os.environ.get("KERAS1_MAX_SAMPLES", "512"))

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = bound.arguments
        if max_epochs and given.get("nb_epoch", 0) > max_epochs:
            given["nb_epoch"] = max_epochs
        if trim and max_samples:
            n = max(max_samples // given["batch_size"], 1) * given["batch_size"]
            for name in ("x", "y", "sample_weight"):
                if name in given:
                    given[name] = _head(given[name], n)
            if given.get("validation_data") is not None:
                given["validation_data"] = _head(given["validation_data"], n)
        return method(*bound.args, **bound.kwargs)

    return wrapper


class _Nothing(types.ModuleType):
    """Any attribute, any call: itself. Stands in for a plotting library that is not there."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self


def install_datasets(published: Iterable[str]) -> None:
    """Replace the five dataset loaders (no network); ``published``: those at full size."""
    import importlib

    sizes.update({name: PUBLISHED[name] for name in published})
    loaders = {
        "mnist": _mnist,
        "cifar10": lambda *a, **k: _cifar(10),
        "cifar100": lambda label_mode="fine", *a, **k: _cifar(100 if label_mode == "fine" else 20),
        "imdb": functools.partial(_sequences, "imdb", 2),
        "reuters": functools.partial(_sequences, "reuters", 46),
    }
    for name, loader in loaders.items():
        importlib.import_module(f"lamella.datasets.{name}").load_data = loader


def install() -> None:
    """Everything an example needs: alias, compat, small data, files, capped training."""
    compat.install()
    alias.install()
    install_datasets(published=["mnist"])  # examples reshape MNIST to (60000, 784)
    import lamella.utils.data_utils as data_utils
    from lamella.engine.training import Model

    data_utils.get_file = get_file
    Model.fit = _capped(Model.fit, trim=True)
    Model.fit_generator = _capped(Model.fit_generator, trim=False)
    Model.evaluate = _capped(Model.evaluate, trim=True)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        for name in ("matplotlib", "matplotlib.pyplot", "pylab"):
            sys.modules[name] = _Nothing(name)


if __name__ == "__main__":
    example = sys.argv[1]
    install()
    sys.argv = sys.argv[1:]
    sys.path.insert(0, str(Path(example).resolve().parent))
    runpy.run_path(example, run_name="__main__")
