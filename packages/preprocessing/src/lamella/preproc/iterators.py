"""Endless, thread-safe batch iterators over numpy arrays and image directories.

Each iterator owns its random state: with a seed, a ``numpy.random.RandomState(seed)``
that drives both the shuffling and the augmentation of its batches, so a seeded run
repeats exactly whatever else uses numpy's global generator; without one, numpy's
global generator (so ``np.random.seed`` still makes runs repeatable, as in Keras).
Indices *and* random transforms are drawn under one lock, which keeps batch k of a
seeded iterator identical even when several threads pull batches.
"""

from __future__ import annotations

import os
import threading
import warnings
from abc import abstractmethod
from collections.abc import Iterator as _IteratorABC
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from lamella.preproc.pictures import (
    array_to_img,
    check_image_batch,
    img_to_array,
    load_img,
    resolve_dim_ordering,
)
from lamella.utils.arguments import check_int

if TYPE_CHECKING:
    from lamella.preproc.image import ImageDataGenerator, Transforms

IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "bmp")
CLASS_MODES = ("categorical", "binary", "sparse", None)
COLOR_MODES = ("rgb", "grayscale")
_NAMED_SKIPS = 20


def make_rng(seed: int | None) -> np.random.RandomState:
    """Our own generator for a seed; numpy's global one (what ``np.random.*`` uses) for None."""
    return np.random.RandomState(seed) if seed is not None else np.random.mtrand._rand


class Iterator(_IteratorABC):
    """Batches of indices into ``n`` samples, reshuffled every epoch, looping forever.

    The last batch of an epoch holds the remainder and may be smaller.  On its own it
    yields the index arrays; subclasses turn indices into data by overriding
    :meth:`_batch` (and :meth:`_draw` for randomness that must be drawn under the lock).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None) -> None:
        where = type(self).__name__
        self.n = check_int(where, "n (the number of samples)", n)
        self.batch_size = check_int(where, "batch_size", batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.rng = make_rng(seed)
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_generator = self._flow_index()

    def reset(self) -> None:
        """Start a new epoch at the next batch (reshuffling when shuffle is on)."""
        self.batch_index = 0

    def _flow_index(self):
        order = np.arange(self.n)
        while True:
            if self.batch_index == 0 and self.shuffle:
                order = self.rng.permutation(self.n)
            start = self.batch_index * self.batch_size
            stop = min(start + self.batch_size, self.n)
            self.batch_index = 0 if stop >= self.n else self.batch_index + 1
            self.total_batches_seen += 1
            yield order[start:stop], start, stop - start

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """The next batch; only index and random draws hold the lock, loading runs in parallel."""
        with self.lock:
            index_array, current_index, current_batch_size = next(self.index_generator)
            draw = self._draw(current_batch_size)
        return self._batch(index_array, current_index, draw)

    def _draw(self, size: int) -> Any:
        return None

    def _batch(self, index_array: np.ndarray, current_index: int, draw: Any):
        return index_array


class _ImageIterator(Iterator):
    """What the array and directory iterators share: augmentation, saving, labels."""

    def __init__(
        self,
        n: int,
        image_data_generator: ImageDataGenerator,
        image_shape: tuple[int, ...],
        *,
        dim_ordering: str,
        batch_size: int,
        shuffle: bool,
        seed: int | None,
        save_to_dir: str | None,
        save_prefix: str,
        save_format: str,
    ) -> None:
        self.image_data_generator = image_data_generator
        self.image_shape = tuple(image_shape)
        self.dim_ordering = dim_ordering
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(n, batch_size, shuffle, seed)

    def _draw(self, size: int) -> Transforms:
        return self.image_data_generator.draw_transforms(size, self.image_shape, self.rng)

    @abstractmethod
    def _images(self, index_array: np.ndarray) -> np.ndarray:
        """The float32 images at these indices, in the iterator's dim ordering."""

    @abstractmethod
    def _labels(self, index_array: np.ndarray) -> np.ndarray | None:
        """The labels at these indices, or None when there are none."""

    def _batch(self, index_array: np.ndarray, current_index: int, draw: Transforms):
        generator = self.image_data_generator
        batch_x = generator.standardize_batch(
            generator.apply_transforms(self._images(index_array), draw)
        )
        if self.save_to_dir:
            self._save(batch_x, current_index)
        batch_y = self._labels(index_array)
        return batch_x if batch_y is None else (batch_x, batch_y)

    def _save(self, batch_x: np.ndarray, current_index: int) -> None:
        lossy = self.save_format.lower() in ("jpeg", "jpg")
        for i, x in enumerate(batch_x):
            img = array_to_img(x, self.dim_ordering, scale=True)
            if lossy and img.mode == "RGBA":
                img = img.convert("RGB")
            tag = np.random.randint(10_000)
            name = f"{self.save_prefix}_{current_index + i}_{tag}.{self.save_format}"
            img.save(os.path.join(self.save_to_dir, name))


class NumpyArrayIterator(_ImageIterator):
    """Augmented float32 batches ``(batch_x, batch_y)`` (or ``batch_x``) from arrays in memory."""

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike | None,
        image_data_generator: ImageDataGenerator,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        dim_ordering: str = "default",
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "jpeg",
    ) -> None:
        where = "NumpyArrayIterator"
        dim_ordering = resolve_dim_ordering(dim_ordering, where)
        self.x = np.asarray(x)
        check_image_batch(self.x, 1 if dim_ordering == "th" else 3, where)
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(
                f"{where}: x and y must hold the same number of samples, "
                f"got x.shape {self.x.shape} and y.shape {self.y.shape}"
            )
        super().__init__(
            len(self.x),
            image_data_generator,
            self.x.shape[1:],
            dim_ordering=dim_ordering,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
        )

    def _images(self, index_array: np.ndarray) -> np.ndarray:
        return self.x[index_array].astype(np.float32, copy=False)

    def _labels(self, index_array: np.ndarray) -> np.ndarray | None:
        return None if self.y is None else self.y[index_array]


def _readable(path: str) -> bool:
    """Whether PIL recognises the file as an image (reads the header only)."""
    try:
        with Image.open(path):
            return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


class DirectoryIterator(_ImageIterator):
    """Augmented batches from the image files in ``directory``, one sub-directory per class."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        image_data_generator: ImageDataGenerator,
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        dim_ordering: str = "default",
        classes: list[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "jpeg",
        follow_links: bool = False,
    ) -> None:
        where = "flow_from_directory"
        dim_ordering = resolve_dim_ordering(dim_ordering, where)
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(
                f"{where}: directory {directory!r} does not exist or is not a directory"
            )
        if color_mode not in COLOR_MODES:
            raise ValueError(
                f"{where}: color_mode must be one of {COLOR_MODES}, got {color_mode!r}"
            )
        if class_mode not in CLASS_MODES:
            raise ValueError(
                f"{where}: class_mode must be one of {CLASS_MODES}, got {class_mode!r}"
            )
        target_size = tuple(target_size)
        if len(target_size) != 2 or not all(
            isinstance(v, int | np.integer) and v > 0 for v in target_size
        ):
            raise ValueError(
                f"{where}: target_size must be a (height, width) pair of positive integers, "
                f"got {target_size!r}"
            )

        if not classes:
            classes = sorted(
                d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d))
            )
        for name in classes:
            if not os.path.isdir(os.path.join(directory, name)):
                raise FileNotFoundError(
                    f"{where}: class {name!r} has no sub-directory in {directory!r}"
                )

        self.directory = directory
        self.color_mode = color_mode
        self.class_mode = class_mode
        self.target_size = target_size
        self.nb_class = len(classes)
        self.class_indices = {name: i for i, name in enumerate(classes)}
        self.filenames, labels = self._scan(classes, follow_links)
        self.classes = np.asarray(labels, dtype=np.int32)
        self.nb_sample = len(self.filenames)
        channels = 3 if color_mode == "rgb" else 1
        image_shape = (*target_size, channels) if dim_ordering == "tf" else (channels, *target_size)
        print(f"Found {self.nb_sample} images belonging to {self.nb_class} classes.")
        super().__init__(
            self.nb_sample,
            image_data_generator,
            image_shape,
            dim_ordering=dim_ordering,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
        )

    def _scan(self, classes: list[str], follow_links: bool) -> tuple[list[str], list[int]]:
        """Relative paths and labels of the readable images; warn about and skip the others."""
        filenames, labels, skipped = [], [], []
        for label, name in enumerate(classes):
            walk = sorted(os.walk(os.path.join(self.directory, name), followlinks=follow_links))
            for root, _, files in walk:
                for fname in sorted(files):
                    if os.path.splitext(fname)[1][1:].lower() not in IMAGE_EXTENSIONS:
                        continue
                    path = os.path.join(root, fname)
                    relative = os.path.relpath(path, self.directory)
                    if _readable(path):
                        filenames.append(relative)
                        labels.append(label)
                    else:
                        skipped.append(relative)
        if skipped:
            named = ", ".join(skipped[:_NAMED_SKIPS])
            more = f" and {len(skipped) - _NAMED_SKIPS} more" if len(skipped) > _NAMED_SKIPS else ""
            warnings.warn(
                f"flow_from_directory: skipped {len(skipped)} unreadable image file(s) "
                f"in {self.directory!r}: {named}{more}",
                stacklevel=4,
            )
        if not filenames:
            raise ValueError(
                f"flow_from_directory: found no readable {'/'.join(IMAGE_EXTENSIONS)} images "
                f"in the class sub-directories {classes} of {self.directory!r}"
            )
        return filenames, labels

    def _images(self, index_array: np.ndarray) -> np.ndarray:
        grayscale = self.color_mode == "grayscale"
        arrays = []
        for j in index_array:
            path = os.path.join(self.directory, self.filenames[j])
            try:
                img = load_img(path, grayscale=grayscale, target_size=self.target_size)
            except OSError as exc:
                raise OSError(f"DirectoryIterator: cannot read image {path!r}: {exc}") from exc
            arrays.append(img_to_array(img, self.dim_ordering))
        return np.stack(arrays)

    def _labels(self, index_array: np.ndarray) -> np.ndarray | None:
        labels = self.classes[index_array]
        if self.class_mode == "sparse":
            return labels
        if self.class_mode == "binary":
            return labels.astype(np.float32)
        if self.class_mode == "categorical":
            return np.eye(self.nb_class, dtype=np.float32)[labels]
        return None
