"""Keras 1's generic utilities: the console progress bar, and functions saved as code."""

from __future__ import annotations

import base64
import marshal
import math
import sys
import time
import types
from collections.abc import Iterable, Mapping
from typing import Any, TextIO


def format_value(value: float, keep_sign: bool = True) -> str:
    """Keras prints ``%.4f`` for values above 1e-3 and ``%.4e`` below."""
    big = abs(value) > 1e-3 if keep_sign else value > 1e-3
    return f" {value:.4f}" if big else f" {value:.4e}"


class Progbar:
    """A progress bar for ``target`` steps: ``verbose=1`` redraws a bar, ``2`` prints at the end.

    ``update(current, values)`` takes Keras's list of ``(name, value)`` pairs and
    shows their averages weighted by steps; :meth:`draw` shows averages computed
    elsewhere (the training loop keeps them on the device and reads them only when
    a line is actually drawn).
    """

    def __init__(
        self,
        target: int,
        width: int = 30,
        verbose: int = 1,
        interval: float = 0.05,
        stream: TextIO | None = None,
    ):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stream = stream
        self.sums: dict[str, list[float]] = {}
        self.seen_so_far = 0
        self.start = time.time()
        self.last_update = 0.0
        self.total_width = 0

    def _out(self) -> TextIO:
        return self.stream or sys.stdout

    def update(
        self, current: int, values: Iterable[tuple[str, float]] | None = None, force: bool = False
    ) -> None:
        steps = current - self.seen_so_far
        for name, value in values or []:
            entry = self.sums.setdefault(name, [0.0, 0])
            entry[0] += float(value) * steps
            entry[1] += steps
        self.seen_so_far = current
        if self.due(current, force):
            averages = {k: s / max(1, n) for k, (s, n) in self.sums.items()}
            self.draw(current, averages, force=True)

    def add(self, n: int, values: Iterable[tuple[str, float]] | None = None) -> None:
        self.update(self.seen_so_far + n, values)

    def due(self, current: int, force: bool = False) -> bool:
        """Whether an update at ``current`` would draw anything (throttled to ``interval``)."""
        if self.verbose == 1:
            return force or (time.time() - self.last_update) >= self.interval
        return self.verbose == 2 and current >= self.target

    def draw(self, current: int, averages: Mapping[str, float], force: bool = False) -> None:
        if not self.due(current, force):
            return
        now = time.time()
        out = self._out()
        if self.verbose == 1:
            previous = self.total_width
            out.write("\b" * previous + "\r")
            digits = math.floor(math.log10(max(self.target, 1))) + 1
            bar = f"{current:{digits}d}/{self.target:{digits}d} ["
            filled = int(self.width * current / max(self.target, 1))
            if filled > 0:
                bar += "=" * (filled - 1) + (">" if current < self.target else "=")
            bar += "." * (self.width - filled) + "]"
            per_step = (now - self.start) / current if current else 0.0
            if current < self.target:
                info = f" - ETA: {int(per_step * (self.target - current))}s"
            else:
                info = f" - {int(now - self.start)}s"
            for name, value in averages.items():
                info += f" - {name}:" + format_value(value)
            self.total_width = len(bar) + len(info)
            if previous > self.total_width:
                info += " " * (previous - self.total_width)
            out.write(bar + info)
            if current >= self.target:
                out.write("\n")
            out.flush()
        elif self.verbose == 2:
            info = f"{int(now - self.start)}s"
            for name, value in averages.items():
                info += f" - {name}:" + format_value(value, keep_sign=False)
            out.write(info + "\n")
            out.flush()
        self.last_update = now


def func_dump(func: Any) -> dict[str, Any]:
    """A Python function's code as text, for a Lambda saved and loaded in the same Python.

    The code is marshalled bytecode, which only the same Python version can read,
    and which runs whatever it says: loading it needs ``safe_mode=False``.
    """
    closure = func.__closure__
    return {
        "code": base64.b64encode(marshal.dumps(func.__code__)).decode("ascii"),
        "defaults": list(func.__defaults__) if func.__defaults__ else None,
        "closure": [cell.cell_contents for cell in closure] if closure else None,
        "python": sys.implementation.cache_tag,
    }


def func_load(dumped: dict[str, Any], globs: dict[str, Any] | None = None) -> Any:
    """The function :func:`func_dump` stored (only call this on files you trust)."""
    if dumped.get("python") != sys.implementation.cache_tag:
        raise ValueError(
            f"This function was saved by {dumped.get('python')!r} and cannot be read by "
            f"{sys.implementation.cache_tag!r}: Python bytecode only loads in the Python "
            "version that wrote it"
        )
    code = marshal.loads(base64.b64decode(dumped["code"]))
    closure = dumped.get("closure")
    cells = tuple(types.CellType(value) for value in closure) if closure else None
    defaults = tuple(dumped["defaults"]) if dumped.get("defaults") else None
    return types.FunctionType(code, dict(globs or {}), code.co_name, defaults, cells)
