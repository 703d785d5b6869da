"""Augmented images per second: lamella's batched ImageDataGenerator against Keras 3's.

Both get the same job: 32x32 RGB float32 images, channels last, batch 64, rotation 20
degrees, shifts 0.1, shear 0.1 rad, zoom 0.1, horizontal flips, nearest-neighbour
sampling.  Keras 2+ reads shear_range in degrees (Keras 1 in radians), so it is given the
same angle in degrees, and interpolation_order=0 (its default is bilinear).
The contenders alternate within one process for several rounds, each round timing
whole batches for at least ``--seconds``; the medians and the median of the per-round
ratios are printed.  Keras is skipped, with a note, when it cannot be imported.

    python bench/bench_augmentation.py [--rounds 7] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from lamella.preproc.image import ImageDataGenerator

OPTIONS = dict(
    rotation_range=20,
    width_shift_range=0.1,
    height_shift_range=0.1,
    zoom_range=0.1,
    horizontal_flip=True,
)
SHEAR_RADIANS = 0.1
BATCH = 64


def lamella_flow(x: np.ndarray) -> Callable[[], object]:
    generator = ImageDataGenerator(shear_range=SHEAR_RADIANS, dim_ordering="tf", **OPTIONS)
    return generator.flow(x, batch_size=BATCH, seed=0).__next__


def keras_flow(x: np.ndarray) -> Callable[[], object] | None:
    try:
        import keras
    except ImportError as exc:
        print(f"note: keras is not importable ({exc}); benchmarking lamella only")
        return None
    # Recent Keras 3 releases dropped the public name; the class lives on in keras.src.legacy.
    for module in ("keras.preprocessing.image", "keras.src.legacy.preprocessing.image"):
        try:
            generator_class = importlib.import_module(module).ImageDataGenerator
            break
        except (ImportError, AttributeError):
            continue
    else:
        print(f"note: keras {keras.__version__} has no ImageDataGenerator; lamella only")
        return None
    print(f"keras {keras.__version__} ({keras.backend.backend()} backend): {module}")
    generator = generator_class(
        shear_range=math.degrees(SHEAR_RADIANS),
        interpolation_order=0,  # Keras 1's nearest neighbour, as lamella (Keras 3 default: 1)
        data_format="channels_last",
        **OPTIONS,
    )
    return generator.flow(x, batch_size=BATCH, seed=0).__next__


def images_per_second(next_batch: Callable[[], object], seconds: float) -> float:
    """Whole batches for at least ``seconds``; images per second over them."""
    count, start = 0, time.perf_counter()
    while True:
        count += BATCH
        next_batch()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="timed per contender and round")
    args = parser.parse_args()

    x = np.random.RandomState(0).rand(BATCH * 32, 32, 32, 3).astype(np.float32)
    contenders = {"lamella": lamella_flow(x), "keras": keras_flow(x)}
    contenders = {name: flow for name, flow in contenders.items() if flow is not None}
    for flow in contenders.values():
        flow()  # warm up: first batch, imports, thread pools

    rates: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for _ in range(args.rounds):
        for name in order:
            rates[name].append(images_per_second(contenders[name], args.seconds))
        order.reverse()  # alternate who goes first

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.rounds} rounds")
    for name, values in rates.items():
        print(f"{name:>8}: median {statistics.median(values):10.0f} augmented images/s")
    if len(rates) == 2:
        ratios = [a / b for a, b in zip(rates["lamella"], rates["keras"], strict=True)]
        print(f"lamella / keras: median paired ratio {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
