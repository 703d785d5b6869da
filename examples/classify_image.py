"""Classify a picture with VGG16 and Keras's ImageNet weights (Keras 1's applications recipe).

    python examples/classify_image.py elephant.jpg
    python examples/classify_image.py elephant.jpg --top 3

Prints the five (or ``--top``) most likely ImageNet classes with their probabilities.
The first run downloads Keras's VGG16 weights (about 530 MB) and ImageNet's class index
into ``~/.lamella/models`` (``$LAMELLA_HOME/models``), checked against Keras's hashes
where Keras published one; later runs read them from there.  Without a network and
without those files it prints where to get them and exits with status 0, so it is not
part of ``nox -s examples`` (which runs offline and would never reach a picture).

Needs lamella-applications (which brings lamella-layers-conv and lamella-io-hdf5) and,
to read the picture, lamella-preprocessing.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from lamella import backend as K
from lamella.applications import imagenet_utils, vgg16
from lamella.applications.vgg16 import VGG16, decode_predictions, preprocess_input
from lamella.preprocessing import image
from lamella.utils.data_utils import cache_dir


def how_to_fetch(error: OSError) -> str:
    """Where each file this program needs comes from and where it must go."""
    folder = cache_dir("models")
    weights = vgg16.WEIGHTS[K.image_dim_ordering(), True]
    files = [
        (weights.name, weights.origin),
        ("imagenet_class_index.json", imagenet_utils.CLASS_INDEX_PATH),
    ]
    lines = [
        f"Could not download what VGG16 needs ({error}).",
        f"Fetch these files into {folder} on a machine with a network, then run again:",
    ]
    lines += [f"    curl -L --create-dirs -o {folder / name} {origin}" for name, origin in files]
    lines.append("(image_dim_ordering 'th' uses the th file, 'tf' the tf file.)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("picture", help="a JPEG or PNG file")
    options.add_argument("--top", type=int, default=5, help="how many classes to print")
    args = options.parse_args(argv)

    picture = image.load_img(args.picture, target_size=(224, 224))
    x = preprocess_input(np.expand_dims(image.img_to_array(picture), axis=0))
    try:
        model = VGG16(weights="imagenet")
        imagenet_utils.class_index()
    except OSError as error:  # no network and nothing in the cache
        print(how_to_fetch(error))
        return 0
    for rank, (wnid, name, probability) in enumerate(
        decode_predictions(model.predict(x), top=args.top)[0], 1
    ):
        print(f"{rank}. {name} ({wnid}): {probability:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
