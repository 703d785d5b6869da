"""Keras 2 spellings in layer constructors: ``Dense(units=64)``, ``Conv2D(32, (3, 3))``.

Every layer class's ``__init__`` is wrapped once (``Layer.__init_subclass__``). A call that
names an argument the class does not take, or passes a Keras 2 ``kernel_size`` where Keras 1
takes rows and columns, gets its arguments renamed and converted by the table the Keras 2/3
file reader uses (:mod:`lamella.keras2.tables`), and the Keras 2 defaults where they differ
from Keras 1's. The layer itself, its config and its files stay Keras 1's. A Keras 1 call
passes through after one look at its keyword names.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lamella.keras2.tables import CLASSES, DEFAULTS, RENAMES, REQUIRED

#: What every layer takes through the base class's keyword arguments.
BASE_ARGUMENTS = frozenset(
    {"input_shape", "batch_input_shape", "input_dtype", "name", "trainable", "input_dim"}
)

#: Keras 2 defaults that differ from Keras 1's (lamella's), for the layers whose Keras 2
#: spelling is used: Keras 2's LSTM and GRU gate with hard_sigmoid.
KERAS2_DEFAULTS: dict[str, dict[str, Any]] = {
    "LSTM": {"inner_activation": "hard_sigmoid"},
    "GRU": {"inner_activation": "hard_sigmoid"},
}

#: Keras 2 initializers of values Keras 1's layers always start at (biases at zero, batch
#: statistics at zero and one): accepted with those values, refused with others.
_FIXED_INITIAL_VALUES = {
    "bias_initializer": ("zeros", "zero"),
    "moving_mean_initializer": ("zeros", "zero"),
    "moving_variance_initializer": ("ones", "one"),
}

#: Keras 2 arguments that become other Keras 1 arguments' values.
_SPECIAL = frozenset({"unit_forget_bias"})

#: Every name a Keras 2 call may use that Keras 1's layers do not: only these are
#: translated, so a Keras 1 argument handed on through ``**kwargs`` is left alone.
KERAS2_NAMES = frozenset(
    {*RENAMES, *DEFAULTS, *REQUIRED, *_FIXED_INITIAL_VALUES, *_SPECIAL, "kernel_size"}
    | {name for _, renames in CLASSES.values() for name in renames}
)

#: Keras 2 arguments holding sizes that Keras 2 lets be one int for every axis.
_PER_AXIS = {"subsample", "strides", "pool_size", "atrous_rate", "size"}


@functools.cache
def accepted(cls: type) -> frozenset[str]:
    """The arguments ``cls``'s constructor names, and those every layer takes."""
    parameters = inspect.signature(inspect.unwrap(cls.__init__)).parameters.values()
    named = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return frozenset((named | BASE_ARGUMENTS) - {"self"})


@functools.cache
def _known(cls: type) -> frozenset[str]:
    """Every argument a constructor along ``cls``'s MRO names (what ``**kwargs`` reach)."""
    names = set(BASE_ARGUMENTS)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(inspect.unwrap(init)).parameters)
    return frozenset(names)


@functools.cache
def _positional(cls: type) -> tuple[str, ...]:
    init = inspect.unwrap(cls.__init__)
    return tuple(
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    )


@functools.cache
def _renames(cls: type) -> dict[str, str]:
    """The table's renames for ``cls``: its own Keras 2 class's (``strides`` is a
    convolution's ``subsample``), then every layer's."""
    found = dict(RENAMES)
    ancestry = [klass.__name__ for klass in reversed(cls.__mro__)]
    for keras1 in ancestry:  # a subclass's entry wins over its base's
        for target, renames in CLASSES.values():
            if target == keras1:
                found.update(renames)
    return found


def _kernel_names(cls: type) -> tuple[str, ...]:
    return tuple(getattr(cls, "kernel_names", ()))


def _keras2_kernel(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """``Conv2D(32, (3, 3))``: Keras 2's ``(filters, kernel_size)`` where Keras 1 takes
    ``(nb_filter, nb_row, nb_col)``."""
    kernel = _kernel_names(cls)
    return len(kernel) > 1 and len(args) == 2 and not any(k in kwargs for k in kernel[1:])


def _rank(cls: type) -> int:
    return max(len(_kernel_names(cls)), getattr(cls, "rank", 0) or 0, 1)


def _sizes(cls: type, key: str, value: Any) -> Any:
    """One int for every axis, as Keras 2 allows (``strides=2``), as Keras 1's tuple."""
    if key == "kernel_size":
        value = (value,) * _rank(cls) if isinstance(value, int) else tuple(value)
        return dict(zip(_kernel_names(cls) or ("filter_length",), value, strict=True))
    if key in _PER_AXIS and isinstance(value, int) and _rank(cls) > 1:
        return {key: (value,) * _rank(cls)}
    if key in _PER_AXIS and isinstance(value, (list, tuple)) and _rank(cls) == 1:
        return {key: value[0]}
    return None


def _dropped(cls: type, key: str, value: Any) -> bool:
    """Keras 2 arguments that change nothing lamella's layer computes (speed knobs such as
    ``implementation``, or a value equal to Keras 1's), and initial values it cannot give."""
    from lamella.keras2.arguments import harmless

    if key in _FIXED_INITIAL_VALUES:
        name = value if isinstance(value, str) else getattr(value, "__name__", value)
        if value is None or name in _FIXED_INITIAL_VALUES[key]:
            return True
        raise ValueError(
            f"{cls.__name__}: {key}={value!r} is not supported: lamella's layers start it at "
            f"{_FIXED_INITIAL_VALUES[key][0]!r}, as Keras 1's do"
        )
    target = _renames(cls).get(key, key)
    return target not in accepted(cls) and (harmless(key, value) or harmless(target, value))


def _special(key: str, value: Any) -> dict[str, Any] | None:
    """Keras 2 arguments that become another Keras 1 argument's value."""
    if key == "unit_forget_bias":  # Keras 1 starts the forget gate's bias at forget_bias_init
        return {"forget_bias_init": "one" if value else "zero"}
    return None


def translate(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple, dict]:
    """Keras 1 arguments for ``cls`` from a call that may use Keras 2's."""
    from lamella.keras2.arguments import keras1_argument

    taken = accepted(cls)
    foreign = {k: v for k, v in kwargs.items() if k in KERAS2_NAMES and k not in taken}
    if _keras2_kernel(cls, args, kwargs):
        args, foreign = args[:1], {"kernel_size": args[1], **foreign}
    if not foreign:
        return args, kwargs
    positional = _positional(cls)[: len(args)]
    result = {k: v for k, v in kwargs.items() if k not in foreign}
    renames = _renames(cls)
    for key, value in foreign.items():
        converted = _special(key, value)
        if converted is None:
            if _dropped(cls, key, value):
                continue
            name = renames.get(key, key)
            converted = _sizes(cls, name, value) or keras1_argument(name, value)
        for keras1, keras1_value in converted.items():
            if keras1 not in _known(cls):
                raise TypeError(
                    f"{cls.__name__}: {key!r} (Keras 2; Keras 1's {keras1!r}) is not an "
                    "argument of this layer, in Keras 1 or in lamella"
                )
            if keras1 in result or keras1 in positional:
                raise TypeError(
                    f"{cls.__name__}: {key!r} (Keras 2) and {keras1!r} (Keras 1) name the same "
                    "argument; give it once"
                )
            result[keras1] = keras1_value
    for key, value in KERAS2_DEFAULTS.get(cls.__name__, {}).items():
        if key not in positional:
            result.setdefault(key, value)
    return args, result


def one_of(owner: str, keras1: tuple[str, Any], keras2: tuple[str, Any], default: Any) -> Any:
    """The value given under Keras 1's name or Keras 2's (``nb_classes``/``num_classes``),
    for functions and classes that are not layers; both at once is an error."""
    (name1, value1), (name2, value2) = keras1, keras2
    if value1 is not None and value2 is not None:
        raise TypeError(
            f"{owner}: {name2!r} (Keras 2) and {name1!r} (Keras 1) name the same argument; "
            "give it once"
        )
    if value1 is not None:
        return value1
    return value2 if value2 is not None else default


def speaking_keras2(init: Callable[..., None]) -> Callable[..., None]:
    """A layer's ``__init__`` accepting Keras 2's spellings too."""

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if type(self).__init__ is __init__:  # the class the user named, not a super() call
            args, kwargs = translate(type(self), args, kwargs)
        init(self, *args, **kwargs)

    __init__.speaks_keras2 = True  # type: ignore[attr-defined]
    return __init__
