"""Train Keras's lstm_text_generation: a character-level LSTM that writes text.

    python examples/lstm_text_generation.py                       # Python's help text
    python examples/lstm_text_generation.py --data nietzsche.txt  # any plain text file

The lowercased text is cut into 40-character windows, one every 3 characters,
each labelled with the character that follows it; windows are one-hot encoded
into a boolean array ``(windows, 40, characters)``.  One LSTM of 128 units and a
softmax over the characters learn to predict the next character with RMSprop
(lr 0.01) in batches of 128.  The model then writes 400 characters at each of
the temperatures 0.2, 0.5, 1.0 and 1.2, starting from a window of the text (low
temperatures repeat the likeliest words, high ones invent).  Keras's script says
at least 20 epochs on Nietzsche (600,000 characters) are needed before the text
starts to sound coherent; it gives no accuracy.

Offline it learns from the first 100,000 characters of the help topics that
ship with Python (``pydoc_data.topics``, what ``help("if")`` prints).  The last
10% of the windows are held out, and the result is the next-character accuracy
on them.  With the defaults (4 epochs, seed 1337) it reaches 0.5705 held-out
accuracy in about 40 s on two CPU cores; RMSprop at lr 0.01 is noisy from epoch to
epoch, so a run may land a few points either side.
"""

from __future__ import annotations

import numpy as np
from _data import check, parser, python_text

from lamella.layers import LSTM, Activation, Dense
from lamella.models import Sequential
from lamella.optimizers import RMSprop

MAXLEN, STEP = 40, 3  # window length, and how far apart windows start
OFFLINE_SIZE = 100_000  # characters of Python's help text that train in time


def windows(text: str, chars: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One-hot windows of ``MAXLEN`` characters and the character after each."""
    index = {c: i for i, c in enumerate(chars)}
    starts = range(0, len(text) - MAXLEN, STEP)
    x = np.zeros((len(starts), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(starts), len(chars)), dtype=bool)
    for row, start in enumerate(starts):
        for t, char in enumerate(text[start : start + MAXLEN]):
            x[row, t, index[char]] = True
        y[row, index[text[start + MAXLEN]]] = True
    return x, y


def build(chars: int) -> Sequential:
    model = Sequential()
    model.add(LSTM(128, input_shape=(MAXLEN, chars)))
    model.add(Dense(chars))
    model.add(Activation("softmax"))
    return model


def sample(preds: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Draw an index from ``preds`` sharpened (temperature < 1) or flattened (> 1)."""
    logits = np.log(np.asarray(preds, dtype="float64") + 1e-12) / temperature
    probabilities = np.exp(logits - logits.max())
    return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))


def write(model: Sequential, seed_text: str, chars: list[str], temperature: float, rng) -> str:
    """400 characters, each predicted from the 40 before it."""
    index = {c: i for i, c in enumerate(chars)}
    sentence, generated = seed_text, ""
    for _ in range(400):
        x = np.zeros((1, MAXLEN, len(chars)), dtype=bool)
        x[0, np.arange(MAXLEN), [index[c] for c in sentence]] = True
        char = chars[sample(model.predict(x, verbose=0)[0], temperature, rng)]
        generated += char
        sentence = sentence[1:] + char
    return generated


def main() -> None:
    args = parser(__doc__, epochs=4, data="a plain text file", data_epochs=60).parse_args()

    import torch

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    text = args.data.read_text(encoding="utf-8") if args.data else python_text(OFFLINE_SIZE)
    text = text.lower()
    chars = sorted(set(text))
    x, y = windows(text, chars)
    print(f"corpus length: {len(text)}, total chars: {len(chars)}, windows: {len(x)}")

    model = build(len(chars))
    model.compile(loss="categorical_crossentropy", optimizer=RMSprop(lr=0.01), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, nb_epoch=args.epochs, validation_split=0.1)

    start = int(rng.integers(0, len(text) - MAXLEN))
    seed_text = text[start : start + MAXLEN]
    for temperature in (0.2, 0.5, 1.0, 1.2):
        print(f"----- temperature {temperature}, starting from: {seed_text!r}")
        print(seed_text + write(model, seed_text, chars, temperature, rng))
    accuracy = history.history["val_acc"][-1]
    print(f"Held-out next-character accuracy: {accuracy:.4f}")
    check(accuracy, args.expect)


if __name__ == "__main__":
    main()
