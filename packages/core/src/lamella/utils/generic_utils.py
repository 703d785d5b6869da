"""Keras 1's generic utilities: custom objects, the progress bar, functions saved as code."""

from __future__ import annotations

import base64
import contextlib
import contextvars
import marshal
import math
import sys
import time
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

#: The process-wide custom objects (Keras 1's ``_GLOBAL_CUSTOM_OBJECTS``).
_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}

#: The ``custom_objects`` argument of the load under way (see :func:`loading_custom_objects`).
_load_objects: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "lamella_load_custom_objects", default=None
)


def _check_mappings(function: str, objects: Iterable[Any]) -> None:
    for position, entry in enumerate(objects):
        if not isinstance(entry, Mapping):
            raise TypeError(
                f"{function}: argument {position + 1} must be a dict of name -> class or "
                f"function, got {type(entry).__name__}"
            )


class CustomObjectScope:
    """``with CustomObjectScope({'MyLayer': MyLayer}):`` makes names usable as if built in.

    Inside the block, layer configs, ``load_model``, ``model_from_json`` and string
    arguments (``W_regularizer='MyReg'``) find these names.  Whatever the block
    adds to or removes from :func:`get_custom_objects` is undone when it ends.
    """

    def __init__(self, *args: Mapping[str, Any]) -> None:
        _check_mappings("CustomObjectScope", args)
        self.custom_objects = args
        self.backup: dict[str, Any] | None = None

    def __enter__(self) -> CustomObjectScope:
        self.backup = dict(_GLOBAL_CUSTOM_OBJECTS)
        for objects in self.custom_objects:
            _GLOBAL_CUSTOM_OBJECTS.update(objects)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _GLOBAL_CUSTOM_OBJECTS.clear()
        _GLOBAL_CUSTOM_OBJECTS.update(self.backup or {})


def custom_object_scope(*args: Mapping[str, Any]) -> CustomObjectScope:
    """A :class:`CustomObjectScope` over the given dicts (later dicts win)."""
    return CustomObjectScope(*args)


def get_custom_objects() -> dict[str, Any]:
    """The live process-wide dict of custom objects: entries added here stay until removed."""
    return _GLOBAL_CUSTOM_OBJECTS


def custom_objects_in_effect(custom_objects: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every custom object a lookup may use now; an explicit ``custom_objects`` wins.

    Later sources win: the global dict, then the ``custom_objects`` of the load
    under way, then the argument.
    """
    return {**_GLOBAL_CUSTOM_OBJECTS, **(_load_objects.get() or {}), **(custom_objects or {})}


@contextlib.contextmanager
def loading_custom_objects(custom_objects: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Make a load's ``custom_objects`` visible to every lookup it makes, for its duration.

    Keras 1 copied them into the global dict for good; here they last only as long
    as the load (a context variable, so other threads' loads do not see them).
    Yields the objects in effect.
    """
    if custom_objects is not None and not isinstance(custom_objects, Mapping):
        raise TypeError(
            "custom_objects must be a dict of name -> class or function, "
            f"got {type(custom_objects).__name__}"
        )
    token = _load_objects.set({**(_load_objects.get() or {}), **(custom_objects or {})})
    try:
        yield custom_objects_in_effect()
    finally:
        _load_objects.reset(token)


def get_from_module(
    identifier: Any,
    module_params: Mapping[str, Any] | types.ModuleType,
    module_name: str,
    instantiate: bool = False,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Keras 1's lookup: a name (or ``{"name": ..., **kwargs}``) in the custom objects or a module.

    ``module_params`` is the namespace searched after the custom objects (a dict
    such as ``globals()``, or a module); ``module_name`` only words the error.  A
    name never imports anything, and never yields a module or a private (``_``)
    name.  Anything that is not a string or a dict comes back unchanged.
    """
    if not isinstance(identifier, (str, Mapping)):
        return identifier
    if isinstance(identifier, Mapping):
        arguments = dict(identifier)
        if "name" not in arguments:
            raise ValueError(
                f"get_from_module: a {module_name} config needs a 'name' key, got {identifier!r}"
            )
        found = _lookup(arguments.pop("name"), module_params, module_name)
        return found(**arguments)
    found = _lookup(identifier, module_params, module_name)
    if instantiate:
        return found(**kwargs) if kwargs else found()
    return found


def _lookup(
    name: Any, module_params: Mapping[str, Any] | types.ModuleType, module_name: str
) -> Any:
    namespace = (
        vars(module_params) if isinstance(module_params, types.ModuleType) else module_params
    )
    custom = custom_objects_in_effect()
    if isinstance(name, str) and name in custom:
        return custom[name]
    found = namespace.get(name) if isinstance(name, str) and not name.startswith("_") else None
    if found is None or isinstance(found, types.ModuleType):
        raise ValueError(
            f"Invalid {module_name}: {name!r} is neither a custom object nor in {module_name}"
        )
    return found


def make_tuple(*args: Any) -> tuple[Any, ...]:
    """Its arguments as a tuple."""
    return args


def format_value(value: float, keep_sign: bool = True) -> str:
    """Keras prints ``%.4f`` for values above 1e-3 and ``%.4e`` below."""
    big = abs(value) > 1e-3 if keep_sign else value > 1e-3
    return f" {value:.4f}" if big else f" {value:.4e}"


def redraws_in_place(stream: TextIO) -> bool:
    """Whether ``stream`` shows a line redrawn with ``\\b`` and ``\\r`` as one line.

    A terminal does, and so does a Jupyter kernel's output (not a terminal, but it
    honours ``\\r``). A pipe, a file or a CI log keeps every redraw as text.
    """
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except (OSError, ValueError):  # a closed or detached stream
        pass
    return "ipykernel" in sys.modules


class Progbar:
    """A progress bar for ``target`` steps: ``verbose=1`` redraws a bar, ``2`` prints at the end.

    ``update(current, values)`` takes Keras's list of ``(name, value)`` pairs and
    shows their averages weighted by steps; :meth:`draw` shows averages computed
    elsewhere (the training loop keeps them on the device and reads them only when
    a line is actually drawn).

    With ``verbose=1`` on a terminal the bar is redrawn in place, byte for byte as
    Keras 1 draws it. When the output is not a terminal (``redraw`` is False: a pipe,
    a file, a CI log) only the bar's final line is written, once the target is
    reached, so logs do not fill with ``\\b`` and ``\\r``.
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
        self.redraw = redraws_in_place(self._out())

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
        if self.verbose == 1 and self.redraw:
            return force or (time.time() - self.last_update) >= self.interval
        return self.verbose in (1, 2) and current >= self.target

    def draw(self, current: int, averages: Mapping[str, float], force: bool = False) -> None:
        if not self.due(current, force):
            return
        now = time.time()
        out = self._out()
        if self.verbose == 1:
            previous = self.total_width
            if self.redraw:
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
