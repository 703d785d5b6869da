"""Train the digits MLP data parallel on several processes with ``torchrun``.

    torchrun --nproc_per_node=2 examples/ddp_mlp.py

The script is an ordinary Keras 1 script: ``LAMELLA_DISTRIBUTED=1`` (set below when
torchrun's variables are present) makes ``fit``, ``evaluate`` and ``predict`` data
parallel.  ``batch_size`` is per process, so the global batch is 32 x the number of
processes.  Only rank 0 prints.  Run without torchrun it trains on one process.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from _data import load

from lamella.layers import Dense
from lamella.models import Sequential
from lamella.utils.np_utils import to_categorical

os.environ.setdefault("LAMELLA_DISTRIBUTED", "1")


def main() -> None:
    torch.manual_seed(1337)
    x_train, y_train, x_test, y_test = load(1337)
    model = Sequential()
    model.add(Dense(64, input_dim=64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, to_categorical(y_train, 10), batch_size=32, nb_epoch=10, verbose=2)
    loss, accuracy = model.evaluate(x_test, to_categorical(y_test, 10), verbose=0)
    guesses = model.predict(x_test).argmax(axis=1)  # every rank gets all the predictions
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"Test loss {loss:.4f}, accuracy {accuracy:.4f}")
        print(f"predict agrees with evaluate: {np.mean(guesses == y_test):.4f}")


if __name__ == "__main__":
    main()
