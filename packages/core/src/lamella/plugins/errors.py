"""Errors that tell a user what is missing and how to get it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib import metadata

from lamella.utils.messages import quoted


class PluginError(RuntimeError):
    """A plugin failed to load or to register (raised only in strict mode)."""


class MissingPluginError(ImportError):
    """A name belongs to a lamella package that is absent or failed to load.

    An ``ImportError`` so that ``from lamella.layers import Convolution2D`` keeps
    the message (Python replaces the text of an AttributeError there).
    """

    def __init__(self, name: str, distribution: str, failure: str | None = None):
        self.distribution = distribution
        self.failure = failure
        super().__init__(missing_message(name, distribution, failure), name=name)


class UnknownNameError(ValueError):
    """A string such as ``loss='msee'`` names nothing that is registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind = kind
        self.unknown = name
        known = sorted(set(known))
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        text = f"Unknown {singular(kind)}: {quoted(name)}."
        if close:
            text += " Did you mean: " + ", ".join(repr(c) for c in close) + "?"
        if known:
            text += f" Registered {kind}: " + ", ".join(known) + "."
        else:
            text += f" No {kind} are registered."
        super().__init__(text)


def singular(kind: str) -> str:
    return {"losses": "loss", "activations": "activation"}.get(kind, kind.rstrip("s"))


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def missing_message(name: str, distribution: str, failure: str | None) -> str:
    version = installed_version(distribution)
    if version is None:
        return (
            f"{name} is provided by {distribution}, which is not installed. "
            f"Install it with: pip install {distribution}"
        )
    if failure is None:
        return (
            f"{name} is provided by {distribution}, but the installed {distribution} "
            f"{version} does not register it; upgrade it with: pip install -U {distribution}"
        )
    return (
        f"{name} is provided by {distribution} {version}, which is installed but "
        f"failed to load: {failure}; run 'lamella plugins' for details"
    )
