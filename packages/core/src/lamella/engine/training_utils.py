"""Keras 1's module-level helpers of ``engine/training.py``, on numpy arrays as Keras 1 had them.

Keras 1 programs call some of these directly (``slice_X``, ``make_batches``) and
custom training loops call the rest; ``lamella.engine.training`` re-exports them
under their Keras paths.  lamella's own ``fit`` does not use them: it checks and
converts data in ``engine.data`` and batches on the device.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella.backend.config import floatx

__all__ = [
    "GeneratorEnqueuer",
    "batch_shuffle",
    "check_array_lengths",
    "check_loss_and_target_compatibility",
    "collect_metrics",
    "make_batches",
    "slice_X",
    "standardize_class_weights",
    "standardize_input_data",
    "standardize_sample_or_class_weights",
    "standardize_sample_weights",
    "standardize_weights",
    "weighted_objective",
]


def _prefix(exception_prefix: str) -> str:
    return f"Error when checking {exception_prefix}" if exception_prefix else "Error when checking"


def standardize_input_data(
    data: Any,
    names: Sequence[str],
    shapes: Sequence[Sequence[int | None] | None] | None = None,
    check_batch_axis: bool = True,
    exception_prefix: str = "",
) -> list[Any]:
    """One array per name, from an array, a list or a dict; 1D arrays become columns.

    With ``shapes``, each array must have the same number of axes and the same
    size wherever the expected shape gives one (the batch axis only if
    ``check_batch_axis``).
    """
    where = _prefix(exception_prefix)
    names = list(names)
    if isinstance(data, Mapping):
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(
                f"{where}: no data provided for {missing}; need data for each key in {names}"
            )
        arrays = [data[name] for name in names]
    elif isinstance(data, list):
        arrays = list(data)
        if len(arrays) != len(names):
            if arrays and hasattr(arrays[0], "shape"):
                raise ValueError(
                    f"{where}: expected a list of {len(names)} arrays ({names}), got a list of "
                    f"{len(arrays)} arrays"
                )
            if len(names) != 1:
                raise ValueError(
                    f"{where}: the model expects a list of {len(names)} arrays ({names}), got "
                    f"a plain list: {str(data)[:200]}"
                )
            arrays = [np.asarray(data)]
    else:
        if not hasattr(data, "shape"):
            raise TypeError(
                f"{where}: data must be a numpy array, or a list or dict of numpy arrays, got "
                f"{type(data).__name__}"
            )
        if len(names) != 1:
            raise ValueError(
                f"{where}: the model expects {len(names)} arrays ({names}), but got one array "
                f"of shape {data.shape}"
            )
        arrays = [data]

    arrays = [a if hasattr(a, "shape") else np.asarray(a) for a in arrays]
    arrays = [np.expand_dims(a, 1) if len(a.shape) == 1 else a for a in arrays]
    for name, array, expected in zip(names, arrays, shapes or [None] * len(names), strict=True):
        if expected is None:
            continue
        if len(array.shape) != len(expected):
            raise ValueError(
                f"{where}: expected {name} to have {len(expected)} dimensions, but got an array "
                f"of shape {tuple(array.shape)}"
            )
        for axis, (size, wanted) in enumerate(zip(array.shape, expected, strict=True)):
            if axis == 0 and not check_batch_axis:
                continue
            if wanted and wanted != size:
                raise ValueError(
                    f"{where}: expected {name} to have shape {tuple(expected)}, but got an "
                    f"array of shape {tuple(array.shape)}"
                )
    return arrays


def standardize_sample_or_class_weights(
    x_weight: Any, output_names: Sequence[str], weight_type: str
) -> list[Any]:
    """One ``sample_weight`` or ``class_weight`` entry (or None) per output."""
    output_names = list(output_names)
    if x_weight is None or len(x_weight) == 0:
        return [None for _ in output_names]
    if len(output_names) == 1:
        if isinstance(x_weight, list) and len(x_weight) == 1:
            return x_weight
        if isinstance(x_weight, Mapping) and output_names[0] in x_weight:
            return [x_weight[output_names[0]]]
        return [x_weight]
    if isinstance(x_weight, list):
        if len(x_weight) != len(output_names):
            raise ValueError(
                f"{weight_type} is a list of {len(x_weight)} entries, but the model has "
                f"{len(output_names)} outputs ({output_names}): give one per output"
            )
        return x_weight
    if isinstance(x_weight, Mapping):
        return [x_weight.get(name) for name in output_names]
    raise TypeError(
        f"The model has {len(output_names)} outputs, so {weight_type} must be a list or a "
        f"dict by output name, got {type(x_weight).__name__}"
    )


def standardize_class_weights(class_weight: Any, output_names: Sequence[str]) -> list[Any]:
    return standardize_sample_or_class_weights(class_weight, output_names, "class_weight")


def standardize_sample_weights(sample_weight: Any, output_names: Sequence[str]) -> list[Any]:
    return standardize_sample_or_class_weights(sample_weight, output_names, "sample_weight")


def check_array_lengths(
    inputs: Sequence[Any], targets: Sequence[Any], weights: Sequence[Any]
) -> None:
    """Every input, target and sample-weight array must have the same number of samples.

    ``None`` entries (no weights for an output) are skipped.
    """

    def lengths(arrays: Sequence[Any], what: str) -> int | None:
        found = {int(a.shape[0]) for a in arrays if a is not None}
        if len(found) > 1:
            raise ValueError(
                f"All {what} should have the same number of samples, got {sorted(found)}"
            )
        return found.pop() if found else None

    x = lengths(inputs, "input arrays (x)")
    y = lengths(targets, "target arrays (y)")
    w = lengths(weights, "sample_weight arrays")
    if x is not None and y is not None and x != y:
        raise ValueError(
            f"Input arrays should have the same number of samples as target arrays: found {x} "
            f"input samples and {y} target samples"
        )
    if x is not None and w is not None and x != w:
        raise ValueError(
            f"sample_weight arrays should have the same number of samples as input arrays: "
            f"found {x} input samples and {w} sample weights"
        )


_SAME_SHAPE_LOSSES = frozenset(
    {"mean_squared_error", "binary_crossentropy", "categorical_crossentropy"}
)


def _loss_name(loss: Any) -> str | None:
    return loss if isinstance(loss, str) else getattr(loss, "__name__", None)


def check_loss_and_target_compatibility(
    targets: Sequence[Any], losses: Sequence[Any], output_shapes: Sequence[Sequence[int | None]]
) -> None:
    """Targets that cannot suit their loss: class indices for categorical_crossentropy, or a
    target shape that differs from the output's for a loss that compares them elementwise."""
    for y, loss, shape in zip(targets, losses, output_shapes, strict=True):
        name = _loss_name(loss)
        if name == "categorical_crossentropy" and y.shape[-1] == 1:
            raise ValueError(
                f"You are passing a target array of shape {tuple(y.shape)} to the loss "
                "categorical_crossentropy, which expects one-hot targets of shape (samples, "
                "classes). Convert integer classes with lamella.utils.np_utils.to_categorical, "
                "or use the loss sparse_categorical_crossentropy"
            )
        if name in _SAME_SHAPE_LOSSES:
            for target_dim, out_dim in zip(y.shape[1:], shape[1:], strict=False):
                if out_dim is not None and target_dim != out_dim:
                    raise ValueError(
                        f"A target array of shape {tuple(y.shape)} was passed for an output of "
                        f"shape {tuple(shape)} with the loss {name}, which expects targets to "
                        "have the same shape as the output"
                    )


def collect_metrics(metrics: Any, output_names: Sequence[str]) -> list[list[Any]]:
    """One list of metrics per output: a list applies to every output, a dict by output name."""
    if not metrics:
        return [[] for _ in output_names]
    if isinstance(metrics, list):
        return [copy.copy(metrics) for _ in output_names]
    if isinstance(metrics, Mapping):
        nested = []
        for name in output_names:
            found = metrics.get(name, [])
            nested.append(found if isinstance(found, list) else [found])
        return nested
    raise TypeError(
        f"metrics must be a list or a dict by output name, got {type(metrics).__name__}"
    )


def batch_shuffle(index_array: np.ndarray, batch_size: int) -> np.ndarray:
    """``index_array`` with whole batches shuffled (for arrays read in contiguous slices).

    The incomplete last batch stays last.  Draws from numpy's global generator.
    """
    index_array = np.asarray(index_array)
    full = len(index_array) // batch_size * batch_size
    batches = index_array[:full].reshape((-1, batch_size))
    np.random.shuffle(batches)
    return np.append(batches.flatten(), index_array[full:])


def make_batches(size: int, batch_size: int) -> list[tuple[int, int]]:
    """The ``(start, stop)`` of each batch of ``batch_size`` over ``size`` samples."""
    if batch_size < 1:
        raise ValueError(f"make_batches: batch_size must be a positive integer, got {batch_size!r}")
    return [(start, min(size, start + batch_size)) for start in range(0, size, batch_size)]


def slice_X(X: Any, start: Any = None, stop: int | None = None) -> Any:
    """``X[start:stop]``, or ``X[indices]`` when ``start`` is a list or array of indices.

    A list of arrays gives the list of their slices.
    """

    def take(array: Any) -> Any:
        if hasattr(start, "__len__"):
            indices = start.tolist() if hasattr(start, "shape") else start
            return array[indices]
        return array[start:stop]

    if isinstance(X, list):
        return [take(x) for x in X]
    return take(X)


Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def weighted_objective(
    fn: Objective,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None], torch.Tensor]:
    """``fn(y_true, y_pred)`` made into ``weighted(y_true, y_pred, weights, mask=None)``.

    Masked entries count for nothing and the loss is scaled up by the unmasked
    fraction; the per-sample loss is averaged down to the rank of ``weights``,
    multiplied by them, and divided by the fraction of non-zero weights.
    """

    def weighted(
        y_true: torch.Tensor,
        y_pred: torch.Tensor,
        weights: torch.Tensor | None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        score = fn(y_true, y_pred)
        if mask is not None:
            mask = mask.to(score.dtype)
            score = score * mask / mask.mean()
        if weights is None:
            return score.mean()
        extra = list(range(weights.dim(), score.dim()))
        if extra:
            score = score.mean(dim=extra)
        score = score * weights
        score = score / (weights != 0).to(score.dtype).mean()
        return score.mean()

    return weighted


def standardize_weights(
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    class_weight: Mapping[Any, float] | None = None,
    sample_weight_mode: str | None = None,
) -> np.ndarray:
    """One weight per sample (per timestep with ``'temporal'``) for targets ``y``.

    ``sample_weight`` wins over ``class_weight``; without either every weight is 1.
    """
    if sample_weight_mode is not None:
        if sample_weight_mode != "temporal":
            raise ValueError(
                f"sample_weight_mode must be None or 'temporal', got {sample_weight_mode!r}"
            )
        if len(y.shape) < 3:
            raise ValueError(
                f"sample_weight_mode='temporal' needs targets with a time axis (3D or more), "
                f"got targets of shape {tuple(y.shape)}"
            )
        if sample_weight is not None and len(sample_weight.shape) != 2:
            raise ValueError(
                "sample_weight_mode='temporal' needs a 2D sample_weight (samples, timesteps), "
                f"got shape {tuple(sample_weight.shape)}"
            )
    elif sample_weight is not None and len(sample_weight.shape) != 1:
        raise ValueError(
            f"sample_weight must be 1D (one weight per sample), got shape "
            f"{tuple(sample_weight.shape)}; for one weight per timestep pass "
            "sample_weight_mode='temporal' to compile()"
        )

    if sample_weight is not None:
        if tuple(y.shape[: sample_weight.ndim]) != tuple(sample_weight.shape):
            raise ValueError(
                f"sample_weight of shape {tuple(sample_weight.shape)} does not match the first "
                f"axes of the targets, of shape {tuple(y.shape)}"
            )
        return sample_weight
    if isinstance(class_weight, Mapping):
        if len(y.shape) > 2:
            raise ValueError(
                f"class_weight is not supported for 3+ dimensional targets, got shape "
                f"{tuple(y.shape)}"
            )
        if len(y.shape) == 2 and y.shape[1] > 1:
            classes = y.argmax(axis=1)
        else:
            classes = np.reshape(y, y.shape[0])
        missing = sorted({c.item() for c in classes} - set(class_weight))
        if missing:
            raise ValueError(f"class_weight has no weight for the classes {missing}")
        return np.asarray([class_weight[c.item()] for c in classes])
    if sample_weight_mode is None:
        return np.ones((y.shape[0],), dtype=floatx())
    return np.ones((y.shape[0], y.shape[1]), dtype=floatx())


class GeneratorEnqueuer:
    """Keras 1's queue fed from a generator by background threads.

    ``start(nb_worker, max_q_size, wait_time)`` starts the threads, which put the
    generator's items on ``queue`` while it holds fewer than ``max_q_size``;
    ``is_running()`` turns False when ``stop()`` is called, the generator ends or
    it raises (the error is printed by the thread, as in Keras).  Threads share
    the generator under a lock.  ``pickle_safe=True`` (processes in Keras 1) is
    accepted and also runs threads, as lamella's ``fit_generator`` does.
    """

    def __init__(self, generator: Iterator[Any], pickle_safe: bool = False) -> None:
        self._generator = generator
        self._pickle_safe = pickle_safe
        self._threads: list[threading.Thread] = []
        self._stop_event: threading.Event | None = None
        self._lock = threading.Lock()
        self.queue: queue.Queue[Any] | None = None

    def start(self, nb_worker: int = 1, max_q_size: int = 10, wait_time: float = 0.05) -> None:
        """Start ``nb_worker`` threads filling :attr:`queue`."""
        stop = self._stop_event = threading.Event()
        feed = self.queue = queue.Queue()

        def work() -> None:
            while not stop.is_set():
                if feed.qsize() >= max_q_size:
                    time.sleep(wait_time)
                    continue
                try:
                    with self._lock:
                        item = next(self._generator)
                except StopIteration:
                    stop.set()
                    return
                except BaseException:
                    stop.set()
                    raise
                feed.put(item)

        for index in range(nb_worker):
            thread = threading.Thread(target=work, daemon=True, name=f"GeneratorEnqueuer-{index}")
            self._threads.append(thread)
            thread.start()

    def is_running(self) -> bool:
        return self._stop_event is not None and not self._stop_event.is_set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the threads and wait up to ``timeout`` seconds for each; drops the queue."""
        if self._stop_event is not None:
            self._stop_event.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        self._threads = []
        self._stop_event = None
        self.queue = None
