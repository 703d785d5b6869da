"""verbose=1 progress bars: Keras 1's bytes on a terminal, final lines only elsewhere.

A bar redrawn with ``\\b`` and ``\\r`` is one line on a terminal, and hundreds of
control characters in a CI log or a file. Off a terminal lamella writes only each
bar's final line.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from lamella.utils import generic_utils
from lamella.utils.generic_utils import Progbar, redraws_in_place


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves by hand, so the seconds printed are known."""
    now = [1000.0]
    monkeypatch.setattr(generic_utils, "time", SimpleNamespace(time=lambda: now[0]))
    return now


def test_a_real_terminal_redraws_and_a_file_does_not(tmp_path):
    controller, terminal = os.openpty()
    with os.fdopen(terminal, "w") as tty, open(tmp_path / "log.txt", "w") as log:
        assert redraws_in_place(tty)
        assert not redraws_in_place(log)
    os.close(controller)


def test_on_a_terminal_the_bar_is_keras_1s_byte_for_byte(clock):
    out = Terminal()
    bar = Progbar(10, stream=out)
    clock[0] += 1.0
    bar.update(4, [("loss", 0.5)])
    clock[0] += 0.01  # within the 0.05 s interval: nothing is drawn
    bar.update(6, [("loss", 0.5)])
    clock[0] += 1.5
    bar.update(10, [("loss", 0.25)])
    first = " 4/10 [===========>..................] - ETA: 1s - loss: 0.5000"
    # the average weighs each value by its steps: (0.5 * 6 + 0.25 * 4) / 10
    last = "10/10 [==============================] - 2s - loss: 0.4000"
    padding = " " * (len(first) - len(last))  # spaces cover the end of the longer ETA line
    assert len(padding) == 5
    assert out.getvalue() == "\r" + first + "\b" * len(first) + "\r" + last + padding + "\n"


def test_off_a_terminal_only_the_final_line_is_written(clock):
    out = io.StringIO()
    bar = Progbar(10, stream=out)
    for step in range(1, 11):
        clock[0] += 0.5
        bar.update(step, [("loss", 0.1 * step)], force=True)
        if step < 10:
            assert out.getvalue() == ""
    assert out.getvalue() == "10/10 [==============================] - 5s - loss: 0.5500\n"


def test_verbose_2_is_the_same_everywhere(clock):
    lines = []
    for out in (Terminal(), io.StringIO()):
        bar = Progbar(4, verbose=2, stream=out)
        clock[0] += 3.0
        bar.update(2, [("acc", 0.5)])
        bar.update(4, [("acc", 1.0)])
        lines.append(out.getvalue())
    assert lines == ["3s - acc: 0.7500\n"] * 2


def test_fit_off_a_terminal_writes_one_line_per_epoch():
    """A real pipe, as CI gives: each epoch is its title and its final bar, nothing else."""
    program = textwrap.dedent(
        """
        import numpy as np, torch
        from lamella.layers import Dense
        from lamella.models import Sequential

        torch.manual_seed(0)
        model = Sequential([Dense(2, input_dim=3, activation="softmax")])
        model.compile(optimizer=torch.optim.SGD, loss="categorical_crossentropy",
                      metrics=["accuracy"])
        x = np.random.default_rng(0).random((100, 3))
        y = np.eye(2)[np.arange(100) % 2]
        model.fit(x, y, nb_epoch=2, batch_size=4, verbose=1, validation_split=0.2)
        model.evaluate(x, y, batch_size=4, verbose=1)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,  # pipes, as a CI runner gives
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\b" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Train on 80 samples, validate on 20 samples", "Epoch 1/2"]
    epoch = (
        r"80/80 \[={30}\] - \d+s - loss: \d\.\d{4} - acc: \d\.\d{4} "
        r"- val_loss: \d\.\d{4} - val_acc: \d\.\d{4}"
    )
    assert re.fullmatch(epoch, lines[2]), lines[2]
    assert lines[3] == "Epoch 2/2" and re.fullmatch(epoch, lines[4]), lines[4]
    assert re.fullmatch(r"100/100 \[={30}\] - \d+s", lines[5]), lines[5]
    assert len(lines) == 6
