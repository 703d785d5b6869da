"""Every public layer, optimizer and callback of lamella-core documents its arguments.

``help(Dense)`` is where a Keras 1 user looks for ``init`` or ``input_dim``; these
tests compare each class's ``Args:`` section with its constructor's signature, so
an argument added without documentation, or documentation left behind by a removed
argument, fails here.
"""

from __future__ import annotations

import inspect
import pydoc

import pytest

import lamella.callbacks
from lamella.engine.optimizer import Optimizer, TorchOptimizer
from lamella.engine.topology import _LAYER_KWARGS, Layer
from lamella.plugins import registry
from lamella.testing.docstrings import (
    SHAPE_SECTIONS,
    check_docstring,
    docstring_problems,
    documented_arguments,
)

# Registered so that saved graphs load, but made by the backend, never by a user.
RECORDED = {"LearningPhaseInput", "Operation", "GradientOperation"}
# Models: their inputs and outputs are those of the graph they hold, not one shape.
MODELS = {"Model", "Sequential"}


def _core_layers() -> list[type]:
    entries = registry("layers").entries.values()
    return [
        entry.obj
        for entry in entries
        if entry.provider.distribution == "lamella-core" and entry.name not in RECORDED | MODELS
    ]


def _callbacks() -> list[type]:
    return [
        obj
        for name, obj in vars(lamella.callbacks).items()
        if isinstance(obj, type)
        and issubclass(obj, lamella.callbacks.Callback)
        and obj.__module__ == "lamella.callbacks"
        and not name.startswith("_")
    ]


def test_every_core_layer_is_checked() -> None:
    names = {cls.__name__ for cls in _core_layers()}
    assert {"Dense", "Embedding", "BatchNormalization", "PReLU", "Merge", "InputLayer"} <= names


@pytest.mark.parametrize("cls", _core_layers(), ids=lambda cls: cls.__name__)
def test_layer_documents_arguments_and_shapes(cls: type) -> None:
    check_docstring(cls, SHAPE_SECTIONS)


def test_layer_base_documents_the_common_arguments() -> None:
    documented = set(documented_arguments(Layer.__doc__ or ""))
    assert documented >= set(_LAYER_KWARGS)
    assert {"input_dim", "weights"} <= documented


@pytest.mark.parametrize("cls", _callbacks(), ids=lambda cls: cls.__name__)
def test_callback_documents_arguments(cls: type) -> None:
    check_docstring(cls)


def test_every_keras1_callback_is_checked() -> None:
    names = {cls.__name__ for cls in _callbacks()}
    assert {"ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau", "CSVLogger"} <= names


@pytest.mark.parametrize("cls", [Optimizer, TorchOptimizer], ids=lambda cls: cls.__name__)
def test_core_optimizer_documents_arguments(cls: type) -> None:
    check_docstring(cls)


def test_help_of_dense_names_init_and_input_dim() -> None:
    from lamella.layers import Dense

    text = pydoc.render_doc(Dense, renderer=pydoc.plaintext)
    description = text.split("Method resolution order")[0]
    for argument in ("output_dim:", "init:", "input_dim:", "Input shape:", "Output shape:"):
        assert argument in description


class _Documented(Layer):
    """A layer for the checker's own tests.

    Args:
        units: How many.
        scale (float): A factor, with a type in parentheses.
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, n)``.

    Output shape:
        ``(batch, units)``.
    """

    def __init__(self, units: int, scale: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)


def test_checker_accepts_a_complete_docstring() -> None:
    assert docstring_problems(_Documented, SHAPE_SECTIONS) == []
    assert documented_arguments(_Documented.__doc__ or "") == ["units", "scale", "**kwargs"]


def test_checker_reports_missing_and_stale_entries() -> None:
    class Undocumented(_Documented):
        """A layer whose docs fell behind.

        Args:
            units: How many.
            ratio: An argument that was removed.

        Output shape:
            ``(batch, units)``.
        """

        def __init__(self, units: int, offset: float = 0.0) -> None:
            super().__init__(units)

    problems = docstring_problems(Undocumented, SHAPE_SECTIONS)
    assert problems == [
        "test_checker_reports_missing_and_stale_entries.<locals>.Undocumented: " + text
        for text in (
            "'Args:' has no entry for offset",
            "'Args:' documents ratio, which __init__ lacks",
            "the docstring has no 'Input shape:' section",
        )
    ]
    with pytest.raises(AssertionError, match="no entry for offset"):
        check_docstring(Undocumented, SHAPE_SECTIONS)


def test_checker_wants_a_docstring_of_the_class_itself() -> None:
    class Inheriting(_Documented):
        pass

    assert inspect.getdoc(Inheriting)  # inherited, but says nothing about this class
    assert docstring_problems(Inheriting) == [
        "test_checker_wants_a_docstring_of_the_class_itself.<locals>.Inheriting "
        "has no docstring of its own"
    ]
