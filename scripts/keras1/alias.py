"""``import keras.X.Y`` gives ``lamella.X.Y``: the very module object, not a copy.

``install()`` puts a finder first on ``sys.meta_path``. ``keras`` itself is a small module that
forwards attribute access to ``lamella.<name>``; every ``keras.<path>`` is answered with the
lamella module of the same path, or with the path that ``MOVED`` names. A path lamella lacks
fails to import as ``No module named 'keras....'``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

# Keras 1 paths that lamella keeps elsewhere. "module" maps a module; "module:name" maps one
# name, which is then set on the aliased module if lamella's lacks it (in the test process only).
MOVED: dict[str, str] = {
    # Keras 1 exports get_source_inputs from keras.engine; lamella keeps it in engine.topology.
    "keras.engine:get_source_inputs": "lamella.engine.topology:get_source_inputs",
}

applied: set[str] = set()  # the MOVED entries this process needed


def lamella_name(fullname: str) -> str:
    """The module that answers ``fullname`` (a ``keras...`` module path)."""
    if fullname in MOVED:
        applied.add(fullname)
        return MOVED[fullname]
    return "lamella" + fullname[len("keras") :]


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class _KerasAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self) -> None:
        self.saved_specs: dict[str, Any] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("keras."):
            return None
        real = lamella_name(fullname)
        if not _exists(real):
            return None  # the import fails with "No module named 'keras....'"
        package = hasattr(importlib.import_module(real), "__path__")
        return importlib.machinery.ModuleSpec(fullname, self, loader_state=real, is_package=package)

    def create_module(self, spec: Any) -> types.ModuleType:
        module = importlib.import_module(spec.loader_state)
        # The import machinery overwrites __spec__ on what we return; put it back afterwards.
        self.saved_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__spec__.name
        module.__spec__ = self.saved_specs.pop(name)
        for source, target in MOVED.items():
            holder, _, attr = source.partition(":")
            if holder == name and attr and not hasattr(module, attr):
                home, _, real_attr = target.partition(":")
                setattr(module, attr, getattr(importlib.import_module(home), real_attr))
                applied.add(source)


def _top_level() -> types.ModuleType:
    keras = types.ModuleType("keras", "Forwards keras.<name> to lamella.<name>.")
    keras.__path__ = []  # a package, so that keras.<sub> imports reach the finder

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"keras.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'keras' has no attribute {name!r}") from None

    keras.__getattr__ = __getattr__  # type: ignore[method-assign]
    return keras


def install() -> None:
    """Alias ``keras`` to lamella in this process (idempotent)."""
    if any(isinstance(finder, _KerasAlias) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _KerasAlias())
    sys.modules["keras"] = _top_level()
