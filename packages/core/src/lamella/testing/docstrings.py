"""``check_docstring``: a class's docstring documents every argument its constructor takes.

lamella's layers, optimizers and callbacks use Google-style sections (``Args:``,
``Input shape:``, ``Output shape:``), so ``help(Dense)`` answers what Keras 1's
documentation pages did.  The checker reads those sections back and compares them
with the ``__init__`` signature, so a new argument without a line of documentation
fails a test.  Plugins can run it over their own classes.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable

SHAPE_SECTIONS = ("Input shape:", "Output shape:")

_ENTRY = re.compile(r"(\*{0,2}\w+)(?: \([^)]*\))?:(?:\s|$)")


def _section(doc: str, title: str) -> list[str] | None:
    """The lines under ``title`` (a line of its own) up to the next line indented as
    little as the title, or None when the docstring has no such section."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != title:
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        return body
    return None


def documented_arguments(doc: str) -> list[str]:
    """The names the ``Args:`` section of ``doc`` has entries for (``name: text`` at the
    section's first indentation; ``**kwargs`` counts as a name)."""
    body = _section(inspect.cleandoc(doc), "Args:")
    if not body:
        return []
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    first = min(indents) if indents else 0
    names = []
    for line in body:
        if line.strip() and len(line) - len(line.lstrip()) == first:
            match = _ENTRY.match(line.strip())
            if match:
                names.append(match.group(1))
    return names


def constructor_arguments(cls: type) -> list[str]:
    """The parameters of ``cls.__init__`` a caller can pass, a ``**kwargs`` parameter
    included (as ``'**kwargs'``, under its own name); ``*args`` is left out."""
    names = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name == "self" or parameter.kind is parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            names.append(f"**{parameter.name}")
        else:
            names.append(parameter.name)
    return names


def docstring_problems(cls: type, sections: Iterable[str] = ()) -> list[str]:
    """What the docstring of ``cls`` lacks: an ``Args:`` entry for a constructor
    argument, an entry for an argument the constructor does not take, or one of
    ``sections`` (for example :data:`SHAPE_SECTIONS`). Empty when nothing is."""
    name = cls.__qualname__
    doc = cls.__dict__.get("__doc__")
    if not doc:
        return [f"{name} has no docstring of its own"]
    doc = inspect.cleandoc(doc)
    problems = []
    wanted = constructor_arguments(cls)
    documented = documented_arguments(doc)
    if wanted and _section(doc, "Args:") is None:
        problems.append(f"{name}: the docstring has no 'Args:' section")
    for argument in wanted:
        if argument not in documented:
            problems.append(f"{name}: 'Args:' has no entry for {argument}")
    if not any(argument.startswith("**") for argument in wanted):
        for argument in documented:
            if argument not in wanted:
                problems.append(f"{name}: 'Args:' documents {argument}, which __init__ lacks")
    for title in sections:
        if not _section(doc, title):
            problems.append(f"{name}: the docstring has no '{title}' section")
    return problems


def check_docstring(cls: type, sections: Iterable[str] = ()) -> None:
    """Raise ``AssertionError`` listing :func:`docstring_problems` of ``cls``, if any."""
    problems = docstring_problems(cls, sections)
    if problems:
        raise AssertionError("\n".join(problems))
