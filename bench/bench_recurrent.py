"""Fit throughput of recurrent classifiers: lamella's ``fit`` against a hand-written PyTorch loop.

The network is Keras's IMDB LSTM: Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid),
trained with binary crossentropy and RMSprop (lr 0.001) on random word indices, sequences
of 80, batch 32; then the same network with a GRU.  Each cell is timed in three lamella
variants:

* the one torch's fused kernel computes: the default LSTM (tanh/sigmoid) and
  ``GRU(reset_after=True)`` (Keras 2/3's GRU, which is torch's);
* Keras 1's maths, which no fused kernel computes, so it runs lamella's loop path (the
  whole-sequence kernels of lamella.recurrent.kernels): the LSTM with
  ``inner_activation='hard_sigmoid'``, Keras 1's default and what Keras 1 files store, and
  Keras 1's default GRU (``reset_after=False``: the reset gate before the recurrent product);
* Keras 1's recurrent dropout, ``dropout_W=0.2, dropout_U=0.2`` (examples/imdb_lstm.py's
  LSTM; the GRU of Keras 1's maths with the same arguments): one mask per gate and sample,
  inside the step, so the loop path too.

All are compared with the same PyTorch contender, nn.Embedding + nn.LSTM (nn.GRU) +
nn.Linear + sigmoid + BCE on tensors prepared once, shuffled with ``randperm`` and sliced
into the same batches: the fastest way to train this network in PyTorch, doing torch's own
maths (no recurrent dropout).  The loop-path variants are also compared with the same
network doing their maths, as a PyTorch user writes it (``torch same maths``: a step loop
under autograd, keras1_loops.py).  Keras 3 (torch backend), where importable, trains its
default layer on ``--keras-samples`` samples per round: on CPU it runs a step loop and is
slow.

    python bench/bench_recurrent.py [--samples 1024] [--rounds 11] [--device cpu]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from harness import Bench, Contender, keras_fit, lamella_fit, parser, summarize, torch_fit
from keras1_loops import KerasOneGRU, KerasOneLSTM
from torch import nn

from lamella.layers import GRU, LSTM, Dense, Embedding
from lamella.models import Sequential

WORDS, EMBED, UNITS, LENGTH, BATCH, LR = 20000, 128, 128, 80, 32, 0.001
DROPOUT = {"dropout_W": 0.2, "dropout_U": 0.2}


@dataclass(frozen=True)
class Variant:
    """One way of configuring a cell in lamella, and its goal against the torch loop."""

    label: str
    arguments: dict[str, Any]
    goal: float | None = None


@dataclass(frozen=True)
class Cell:
    """A recurrent layer to time; its first variant runs the fused kernel."""

    name: str
    layer: type
    torch_layer: type[nn.Module]
    same_maths: type[nn.Module]  # Keras 1's cell as a step loop, for the loop-path variants
    variants: tuple[Variant, ...]


CELLS = (
    Cell(
        "LSTM",
        LSTM,
        nn.LSTM,
        KerasOneLSTM,
        (
            Variant("default", {}, 0.95),
            Variant("hard_sigmoid", {"inner_activation": "hard_sigmoid"}, 0.8),
            Variant("dropout_W=dropout_U=0.2", DROPOUT, 0.7),
        ),
    ),
    Cell(
        "GRU",
        GRU,
        nn.GRU,
        KerasOneGRU,
        (
            Variant("reset_after=True", {"reset_after": True}),
            Variant("reset_after=False", {}, 0.9),
            Variant("reset_after=False, dropout_W=dropout_U=0.2", DROPOUT, 0.7),
        ),
    ),
)


def lamella_model(cell: Cell, arguments: dict[str, Any]) -> Sequential:
    model = Sequential()
    model.add(Embedding(WORDS, EMBED, input_length=LENGTH))
    model.add(cell.layer(UNITS, **arguments))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(
        loss="binary_crossentropy", optimizer=torch.optim.RMSprop(model.parameters(), lr=LR)
    )
    return model


class TorchRecurrent(nn.Module):
    """The same network written for PyTorch, with its fused LSTM or GRU."""

    def __init__(self, torch_layer: type[nn.Module]):
        super().__init__()
        self.embedding = nn.Embedding(WORDS, EMBED)
        self.recurrent = torch_layer(EMBED, UNITS, batch_first=True)
        self.dense = nn.Linear(UNITS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.recurrent(self.embedding(x))
        h = state[0] if isinstance(state, tuple) else state  # LSTM's (h, c), GRU's h
        return torch.sigmoid(self.dense(h[0]))


def same_maths_fit(cell: Cell, variant: Variant, x: torch.Tensor, y: torch.Tensor) -> Contender:
    """A step loop doing the variant's Keras 1 maths, trained as the torch loop is."""
    arguments = variant.arguments
    model = cell.same_maths(
        WORDS,
        EMBED,
        UNITS,
        inner=arguments.get("inner_activation", "sigmoid"),
        dropout=arguments.get("dropout_U", 0.0),
    ).to(x.device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR)
    contender = torch_fit(model, optimizer, F.binary_cross_entropy, x, y, BATCH)
    contender.name = f"torch same maths {variant.label}"
    return contender


def keras_model(keras, cell: Cell):
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            keras.layers.Embedding(WORDS, EMBED),
            getattr(keras.layers, cell.name)(UNITS),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    # torch.optim.RMSprop's defaults, so the contenders do the same update.
    optimizer = keras.optimizers.RMSprop(learning_rate=LR, rho=0.99, epsilon=1e-8)
    model.compile(loss="binary_crossentropy", optimizer=optimizer)
    return model


def compare(bench: Bench, args, cell: Cell) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, WORDS, (args.samples, LENGTH))
    y = rng.integers(0, 2, (args.samples, 1)).astype(np.float32)

    torch.manual_seed(0)
    models = [lamella_model(cell, v.arguments).to(args.device) for v in cell.variants]
    theirs = TorchRecurrent(cell.torch_layer).to(args.device)
    optimizer = torch.optim.RMSprop(theirs.parameters(), lr=LR)
    x_t, y_t = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
    ours: list[Contender] = []
    for variant, model in zip(cell.variants, models, strict=True):
        contender = lamella_fit(model, x, y, BATCH)
        if ours:  # the fused variant keeps the plain name, as in earlier runs
            contender.name = f"lamella {variant.label}"
        ours.append(contender)
    torch_loop = torch_fit(theirs, optimizer, F.binary_cross_entropy, x_t, y_t, BATCH)
    same_maths = {
        variant.label: same_maths_fit(cell, variant, x_t, y_t)
        for variant, model in zip(cell.variants, models, strict=True)
        if model.layers[1].path != "fused"
    }
    contenders = [*ours, torch_loop, *same_maths.values()]
    keras = bench.keras()
    if keras is not None:
        contenders.append(keras_fit(keras_model(keras, cell), x, y, BATCH, args.keras_samples))
    times = bench.alternate(contenders, args.device)  # one run serves every record
    others = [c for c in contenders if c.name == "keras"]
    for index, (variant, model, contender) in enumerate(
        zip(cell.variants, models, ours, strict=True)
    ):
        path = model.layers[1].path
        note = f"lamella's {cell.name} runs its {path!r} path"
        if path != "fused":
            note += "; the torch loop is fused"
        compared = [contender, torch_loop, *(others if index == 0 else [])]
        case = f"{cell.name} fit ({variant.label})"
        bench.add(summarize(case, compared, times, goal=variant.goal, note=note))
        if variant.label in same_maths:
            note = f"lamella's {path!r} path against Keras 1's maths as a torch step loop"
            compared = [contender, same_maths[variant.label]]
            bench.add(summarize(f"{case}, same maths", compared, times, goal=1.0, note=note))


def main() -> None:
    args = parser(__doc__, rounds=11, samples=1024, keras_samples=256, device=True).parse_args()
    title = f"LSTM and GRU on {args.device}, {args.samples} samples, length {LENGTH}, batch {BATCH}"
    with Bench(title, args) as bench:
        for cell in CELLS:
            compare(bench, args, cell)


if __name__ == "__main__":
    main()
