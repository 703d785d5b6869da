"""Teach a sequence-to-sequence LSTM to add numbers given as strings of characters.

    python examples/addition_rnn.py

The question ``"12+345"`` goes in one character at a time (one-hot, padded with
spaces, reversed as Sutskever et al. suggest: short-range dependencies help the
encoder), and the answer ``"357"`` comes out one character per time step.  An LSTM
encodes the question into one vector, RepeatVector hands it to every output step
and a second LSTM decodes it, with a softmax over the characters at each step.

With the defaults (numbers of up to 2 digits, 5000 questions of which 10% are
held out, 100 epochs, seed 1337) it reaches 0.9807 per-character validation
accuracy (0.9460 of the answers entirely right) in about 38 s on two CPU cores.
(Keras's script reports 0.99 after 55 epochs, on its own mix of questions.)
"""

from __future__ import annotations

import numpy as np
from _data import check, parser

from lamella.layers import LSTM, Activation, Dense, RepeatVector, TimeDistributed
from lamella.models import Sequential

CHARS = "0123456789+ "


class CharacterTable:
    """One-hot encoding of strings over ``CHARS``, and back from the softmax outputs."""

    def __init__(self, chars: str):
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    def encode(self, texts: list[str]) -> np.ndarray:
        """One-hot rows, ``(len(texts), length, len(chars))``: the texts share one length."""
        codes = np.array([[self.index[c] for c in text] for text in texts])
        return np.eye(len(self.chars), dtype="float32")[codes]

    def decode(self, outputs: np.ndarray) -> str:
        """One string from one ``(length, len(chars))`` array of probabilities."""
        return "".join(self.chars[i] for i in outputs.argmax(axis=-1))


def questions(digits: int, count: int, seed: int) -> tuple[list[str], list[str]]:
    """``count`` distinct ``a+b`` questions (``a+b`` and ``b+a`` count once) and answers.

    Questions are padded to ``2 * digits + 1`` characters, then reversed; answers are
    padded to ``digits + 1`` characters (the largest sum has one more digit).
    """
    rng = np.random.default_rng(seed)
    high = 10**digits
    if count > high * (high + 1) // 2:
        raise SystemExit(f"there are fewer than {count} distinct {digits}-digit additions")
    seen: set[tuple[int, int]] = set()
    asked, answers = [], []
    while len(asked) < count:
        a, b = (int(n) for n in rng.integers(0, high, size=2))
        if (min(a, b), max(a, b)) in seen:
            continue
        seen.add((min(a, b), max(a, b)))
        asked.append(f"{a}+{b}".ljust(2 * digits + 1)[::-1])
        answers.append(str(a + b).ljust(digits + 1))
    return asked, answers


def build(question_length: int, answer_length: int, hidden: int) -> Sequential:
    model = Sequential()
    model.add(LSTM(hidden, input_shape=(question_length, len(CHARS))))  # the encoder
    model.add(RepeatVector(answer_length))  # its summary, once per output character
    model.add(LSTM(hidden, return_sequences=True))  # the decoder
    model.add(TimeDistributed(Dense(len(CHARS))))
    model.add(Activation("softmax"))
    return model


def main() -> None:
    cli = parser(__doc__, epochs=100)
    cli.add_argument("--digits", type=int, default=2, help="largest number of digits a term has")
    cli.add_argument("--size", type=int, default=5000, help="questions, 10%% held out")
    cli.add_argument("--hidden", type=int, default=128, help="units of each LSTM")
    args = cli.parse_args()

    import torch

    torch.manual_seed(args.seed)
    table = CharacterTable(CHARS)
    asked, answers = questions(args.digits, args.size, args.seed)
    x, y = table.encode(asked), table.encode(answers)
    split = len(x) - len(x) // 10
    x_train, y_train, x_val, y_val = x[:split], y[:split], x[split:], y[split:]
    print(f"{len(x_train)} training and {len(x_val)} validation questions, e.g.")
    print(f"  {asked[0]!r} (reversed) -> {answers[0]!r}; x shape {x.shape}, y shape {y.shape}")

    model = build(x.shape[1], y.shape[1], args.hidden)
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        nb_epoch=args.epochs,
        verbose=2,
        validation_data=(x_val, y_val),
    )

    guesses = model.predict(x_val[:10], verbose=0)
    for question, answer, guess in zip(asked[split:], answers[split:], guesses, strict=False):
        said = table.decode(guess)
        mark = "right" if said == answer else "wrong"
        print(f"Q {question[::-1]:>{x.shape[1]}}  T {answer:<{y.shape[1]}}  {mark}: {said}")
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    right = model.predict(x_val, verbose=0).argmax(-1) == y_val.argmax(-1)
    print(f"Validation accuracy per character: {accuracy:.4f}")
    print(f"Validation answers entirely right: {right.all(axis=1).mean():.4f}")
    check(accuracy, args.expect)


if __name__ == "__main__":
    main()
