"""Names that Keras 1 era code takes from numpy 1.x and ``six``, restored for numpy 2 / no six.

These are gaps of the environment, not of lamella: without them a 2017 test or example
stops at ``np.float`` or ``from six.moves import range`` before it reaches lamella.
"""

from __future__ import annotations

import builtins
import functools
import pickle
import sys
import types

import numpy as np

# numpy 2 removed these aliases; each meant the builtin (or the numpy function) it names here.
_NUMPY_ALIASES = {"float": float, "int": int, "object": object, "alltrue": np.all}


def _six() -> types.ModuleType:
    """The corner of six that Keras 1's examples use, for Python 3 only."""
    six = types.ModuleType("six", "harness stand-in for six (Python 3 only)")
    moves = types.ModuleType("six.moves")
    for name in ("range", "zip", "map", "filter", "input"):
        setattr(moves, name, getattr(builtins, name))
    moves.xrange = range
    moves.cPickle = pickle
    six.moves = moves
    six.PY2, six.PY3 = False, True
    six.string_types, six.integer_types = (str,), (int,)
    six.wraps = functools.wraps
    six.iteritems = lambda mapping: iter(mapping.items())
    return six


def install_pytest() -> None:
    """pytest >= 5 made ``str(excinfo)`` a repr (cut at 240 characters); Keras 1's tests
    search it for their error text, as pytest 3 gave it: ``path:line: Type: message``."""
    from _pytest._code import ExceptionInfo

    def old_str(self: ExceptionInfo[BaseException]) -> str:
        entry = self.traceback[-1]
        return f"{entry.path}:{entry.lineno + 1}: {self.exconly()}"

    ExceptionInfo.__str__ = old_str  # type: ignore[method-assign]


def install() -> None:
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)
    try:
        import six
    except ImportError:
        six = _six()
        sys.modules["six"] = six
        sys.modules["six.moves"] = six.moves
