"""Augmented images per second: lamella's batched ImageDataGenerator against Keras 3's.

Both get the same job: 32x32 RGB float32 images, channels last, batch 64, rotation 20
degrees, shifts 0.1, shear 0.1 rad, zoom 0.1, horizontal flips, nearest-neighbour
sampling.  Keras 2+ reads shear_range in degrees (Keras 1 in radians), so it is given the
same angle in degrees, and interpolation_order=0 (its default is bilinear).
Each timed call draws ``--batches`` batches; Keras is skipped, with a note, when it
cannot be imported (then lamella runs alone, with no ratio).

    python bench/bench_augmentation.py [--rounds 9] [--batches 8]
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

import numpy as np
from harness import Bench, Contender, parser, repeat

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


def keras_flow(x: np.ndarray, keras) -> Callable[[], object] | None:
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
    print(f"Keras ImageDataGenerator from {module}")
    generator = generator_class(
        shear_range=math.degrees(SHEAR_RADIANS),
        interpolation_order=0,  # Keras 1's nearest neighbour, as lamella (Keras 3 default: 1)
        data_format="channels_last",
        **OPTIONS,
    )
    return generator.flow(x, batch_size=BATCH, seed=0).__next__


def main() -> None:
    options = parser(__doc__, rounds=9)
    options.add_argument("--batches", type=int, default=8, help="batches per timed call")
    args = options.parse_args()
    bench = Bench("augmentation, 32x32x3, batch 64", args)
    x = np.random.RandomState(0).rand(BATCH * 32, 32, 32, 3).astype(np.float32)
    work = args.batches * BATCH
    contenders = [Contender("lamella", repeat(lamella_flow(x), args.batches), work)]
    keras = bench.keras()
    theirs = keras_flow(x, keras) if keras is not None else None
    if theirs is not None:
        contenders.append(Contender("keras", repeat(theirs, args.batches), work))
    bench.compare("augmentation", contenders, unit="images/s")
    bench.finish()


if __name__ == "__main__":
    main()
