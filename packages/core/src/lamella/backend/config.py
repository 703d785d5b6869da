"""Settings: floatx, epsilon, image_dim_ordering, the device policy and the data budget.

Read once, lazily, from ``~/.lamella/lamella.json`` (or ``$LAMELLA_HOME/lamella.json``)
and then from ``LAMELLA_FLOATX``, ``LAMELLA_EPSILON``, ``LAMELLA_IMAGE_DIM_ORDERING``,
``LAMELLA_DEVICE`` and ``LAMELLA_DATA_BUDGET``, which win.  Nothing is ever written at
import: a file appears only when a user calls :func:`save_config`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lamella.utils.atomic import replacing

DEFAULTS: dict[str, Any] = {
    "floatx": "float32",
    "epsilon": 1e-7,
    "image_dim_ordering": "th",
    "device": "auto",
    "data_budget": "auto",
}
_FLOATX = ("float16", "bfloat16", "float32", "float64")
_ORDERINGS = ("th", "tf")

_config: dict[str, Any] | None = None


def config_path() -> Path:
    """``$LAMELLA_HOME/lamella.json``, where LAMELLA_HOME defaults to ``~/.lamella``."""
    home = os.environ.get("LAMELLA_HOME")
    return (Path(home) if home else Path.home() / ".lamella") / "lamella.json"


def _validate(key: str, value: Any, origin: str) -> Any:
    if key == "floatx" and value not in _FLOATX:
        raise ValueError(f"{origin}: floatx must be one of {_FLOATX}, got {value!r}")
    if key == "image_dim_ordering" and value not in _ORDERINGS:
        raise ValueError(f"{origin}: image_dim_ordering must be 'th' or 'tf', got {value!r}")
    if key == "epsilon":
        return float(value)
    if key == "device":
        return str(value)
    if key == "data_budget":
        return _parse_budget(value, origin)
    return value


#: The share of free memory that ``data_budget='auto'`` lets a call's data take.
AUTO_DATA_SHARE = 0.5
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def _parse_budget(value: Any, origin: str) -> str | float | int:
    """``'auto'``, a share of free memory (a number from 0 to 1), or a size in bytes
    (a number above 1, or a string such as ``'512MB'`` or ``'2GiB'``)."""
    expected = (
        "data_budget must be 'auto', a share of free memory between 0 and 1 (e.g. 0.25), "
        f"or a size such as '512MB', '2GiB' or a number of bytes; got {value!r}"
    )
    if value == "auto":
        return "auto"
    number: float
    if isinstance(value, bool):
        raise ValueError(f"{origin}: {expected}")
    if isinstance(value, (int, float)):
        number, scale = float(value), 1
    elif isinstance(value, str):
        found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", value.lower())
        if found is None or found.group(2) not in _UNITS:
            raise ValueError(f"{origin}: {expected}")
        number, scale = float(found.group(1)), _UNITS[found.group(2)]
    else:
        raise ValueError(f"{origin}: {expected}")
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{origin}: {expected}")
    if scale == 1 and number <= 1:
        return number  # a share of free memory
    return int(number * scale)


def _load() -> dict[str, Any]:
    settings = dict(DEFAULTS)
    path = config_path()
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"Cannot read lamella settings from {path}: {exc}") from exc
        for key in DEFAULTS:
            if key in stored:
                settings[key] = _validate(key, stored[key], str(path))
    for key in DEFAULTS:
        env = os.environ.get(f"LAMELLA_{key.upper()}")
        if env:
            settings[key] = _validate(key, env, f"LAMELLA_{key.upper()}")
    return settings


def settings() -> dict[str, Any]:
    """The settings in force (a copy)."""
    global _config
    if _config is None:
        _config = _load()
    return dict(_config)


def _set(key: str, value: Any) -> None:
    settings()
    assert _config is not None
    _config[key] = _validate(key, value, f"set_{key}")


def reload_config() -> None:
    """Read the file and the environment again (after changing either)."""
    global _config
    _config = None


def save_config(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the settings in force to the config file, atomically."""
    target = Path(path) if path else config_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target) as temporary, open(temporary, "w") as handle:
        json.dump(settings(), handle, indent=4)
    return target


def backend() -> str:
    return "pytorch"


def floatx() -> str:
    return settings()["floatx"]


def set_floatx(value: str) -> None:
    _set("floatx", value)


def epsilon() -> float:
    return settings()["epsilon"]


def set_epsilon(value: float) -> None:
    _set("epsilon", value)


def image_dim_ordering() -> str:
    return settings()["image_dim_ordering"]


def set_image_dim_ordering(value: str) -> None:
    _set("image_dim_ordering", value)


#: Keras 2's names of the two orderings.
DATA_FORMATS = {"th": "channels_first", "tf": "channels_last"}


def image_data_format() -> str:
    """Keras 2's spelling of :func:`image_dim_ordering`: ``'channels_first'`` for 'th'."""
    return DATA_FORMATS[image_dim_ordering()]


def set_image_data_format(value: str) -> None:
    """Keras 2's spelling of :func:`set_image_dim_ordering`."""
    orderings = {v: k for k, v in DATA_FORMATS.items()}
    if value not in orderings:
        raise ValueError(
            f"set_image_data_format: expected 'channels_first' or 'channels_last', got {value!r}"
        )
    set_image_dim_ordering(orderings[value])


def torch_dtype(dtype: str | torch.dtype | None = None) -> torch.dtype:
    """The torch dtype for a Keras dtype name (``None`` means floatx)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = floatx() if dtype is None else str(dtype)
    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise ValueError(f"Unknown dtype {dtype!r}: expected a name such as 'float32' or 'int64'")
    return found


def cast_to_floatx(x: Any) -> np.ndarray:
    """A numpy array of ``x`` in floatx (numpy has no bfloat16: float32 then)."""
    name = floatx()
    return np.asarray(x, dtype="float32" if name == "bfloat16" else name)


def device() -> torch.device:
    """Where models run: the configured device, or CUDA when torch sees one, else CPU."""
    wanted = settings()["device"]
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)


def set_device(value: str | torch.device) -> None:
    _set("device", str(value))


def data_budget() -> str | float | int:
    """How much data ``fit``, ``evaluate`` and ``predict`` keep whole on the device.

    ``'auto'`` (half of the device's free memory: the GPU's, or the RAM available on
    the CPU), a share of free memory (a float from 0 to 1), or a number of bytes.
    Data over the budget is streamed batch by batch (see :mod:`lamella.engine.data`).
    """
    return settings()["data_budget"]


def set_data_budget(value: str | float | int) -> None:
    """Set :func:`data_budget` for this process (``save_config`` keeps it)."""
    _set("data_budget", value)
