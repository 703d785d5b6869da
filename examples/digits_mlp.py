"""Train a Keras 1 style MLP on the 8x8 handwritten digits that ship with scikit-learn.

    python examples/digits_mlp.py --out demo-output

Prints Keras's progress bar and the test accuracy, and writes
``predictions.png``: test digits labelled with the model's guess, green when right,
red with the true digit when wrong, under a legend that says so.  No download: the
data is inside the scikit-learn wheel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _data import load
from PIL import Image, ImageDraw

from lamella.layers import Activation, Dense, Dropout
from lamella.models import Sequential
from lamella.utils.np_utils import to_categorical


def build() -> Sequential:
    model = Sequential()
    model.add(Dense(64, input_dim=64, init="he_normal"))
    model.add(Activation("relu"))
    model.add(Dropout(0.2))
    model.add(Dense(64, init="he_normal"))
    model.add(Activation("relu"))
    model.add(Dropout(0.2))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    return model


RIGHT, WRONG = (0, 140, 0), (200, 0, 0)


def picture(images: np.ndarray, truth: np.ndarray, guess: np.ndarray, path: Path) -> None:
    """A grid of digits, each scaled up 6x with the guess under it, below a legend."""
    cols, cell, scale, top = 10, 64, 6, 40
    rows = (len(images) + cols - 1) // cols
    canvas = Image.new("RGB", (cols * cell, top + rows * (cell + 14)), "white")
    draw = ImageDraw.Draw(canvas)
    right = int((truth == guess).sum())
    draw.text(
        (8, 4), f"Under each digit: the model's guess ({right} of {len(truth)} right)", "black"
    )
    for x, color, meaning in (
        (8, RIGHT, "right"),
        (100, WRONG, "wrong (the true digit in brackets)"),
    ):
        draw.rectangle((x, 22, x + 10, 32), fill=color)
        draw.text((x + 16, 22), meaning, fill=color)
    for index, (image, label, predicted) in enumerate(zip(images, truth, guess, strict=True)):
        x, y = (index % cols) * cell, top + (index // cols) * (cell + 14)
        pixels = (255 - image.reshape(8, 8) * 255).astype("uint8")
        tile = Image.fromarray(pixels, "L").resize((8 * scale, 8 * scale), Image.NEAREST)
        canvas.paste(tile, (x + 8, y + 4))
        if label == predicted:
            draw.text((x + 26, y + 8 * scale + 4), str(predicted), fill=RIGHT)
        else:
            draw.text((x + 18, y + 8 * scale + 4), f"{predicted} ({label})", fill=WRONG)
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()

    import torch

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load(args.seed)
    print(f"{len(x_train)} training and {len(x_test)} test digits of 8x8 pixels")

    model = build()
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(
        x_train,
        to_categorical(y_train, 10),
        batch_size=32,
        nb_epoch=args.epochs,
        verbose=1,
        validation_split=0.1,
    )
    loss, accuracy = model.evaluate(x_test, to_categorical(y_test, 10), verbose=0)
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")

    args.out.mkdir(parents=True, exist_ok=True)
    guess = model.predict_classes(x_test[:50], verbose=0)
    picture(x_test[:50], y_test[:50], guess, args.out / "predictions.png")
    print(f"Wrote {args.out / 'predictions.png'} (50 test digits with the model's guesses)")


if __name__ == "__main__":
    main()
