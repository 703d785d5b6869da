"""Python functions in layer configs (a Lambda's function, a Merge's mode), as Keras 1 saves
them: a named function by its name, any other as its code, which loads only where the
caller turned ``safe_mode`` off (see :func:`lamella.engine.serialization.safe_mode`)."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import torch

from lamella.engine.serialization import safe_mode
from lamella.plugins import available
from lamella.utils import generic_utils


def calls_gradients(fn: Any) -> bool:
    """Whether a Python function calls ``K.gradients`` (as Keras's mnist_swwae's merge mode
    does): the layer running it then needs autograd even when predicting."""
    code = getattr(fn, "__code__", None)
    pending = [code] if code is not None else []
    while pending:
        code = pending.pop()
        if "gradients" in code.co_names:
            return True
        pending.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return False


def dump_callable(fn: Any) -> tuple[Any, str]:
    """A Python function as its code (Keras 1's ``'lambda'`` type), anything else by name."""
    if isinstance(fn, types.FunctionType):
        return generic_utils.func_dump(fn), "lambda"
    return getattr(fn, "__name__", type(fn).__name__), "function"


def load_callable(owner: str, stored: Any, kind: str, custom_objects: dict[str, Any] | None) -> Any:
    """A function back from a config; stored code runs only when safe_mode is off.

    ``owner`` names the layer for the messages (``"Lambda layer 'lambda_1'"``).
    """
    from lamella import activations, backend

    if kind == "function":
        if custom_objects and stored in custom_objects:
            return custom_objects[stored]
        if isinstance(stored, str) and available(stored, "activations"):
            return activations.get(stored)
        raise ValueError(
            f"{owner} calls the function {stored!r}, which is neither in custom_objects nor "
            f"a registered activation: pass custom_objects={{{stored!r}: ...}}"
        )
    if kind != "lambda" or not isinstance(stored, dict):
        raise ValueError(f"{owner}: unknown function type {kind!r} in its config")
    if safe_mode():
        raise ValueError(
            f"Refusing to load {owner}: its function is Python code stored in the file, and "
            "loading it would run that code. If you trust the file, pass safe_mode=False to "
            "the function that loads it (load_model, model_from_json ...)"
        )
    namespace = {"K": backend, "np": np, "torch": torch, **(custom_objects or {})}
    return generic_utils.func_load(stored, globs=namespace)
