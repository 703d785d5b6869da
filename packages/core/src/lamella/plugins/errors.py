"""Errors that tell a user what is missing and how to get it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib import metadata

from lamella.plugins.first_party import install_command
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
    """A string such as ``loss='msee'`` names nothing that is registered.

    The message lists close matches, and every name only when there are few: the 80-odd
    layer names would bury the one line that matters.  An unknown layer comes from a
    config or a file, so its message also says how to hand lamella a class of your own.
    """

    #: Up to this many registered names, the message lists them all.
    LIST_ALL = 12

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind = kind
        self.unknown = name
        known = sorted(set(known))
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
        text = f"Unknown {singular(kind)}: {quoted(name)}."
        if close:
            text += " Did you mean: " + ", ".join(repr(c) for c in close) + "?"
        if not known:
            text += f" No {kind} are registered."
        elif len(known) <= self.LIST_ALL:
            text += f" Registered {kind}: " + ", ".join(known) + "."
        else:
            text += f" {len(known)} {kind} are registered; 'lamella plugins' lists them."
        if kind == "layers":
            text += " " + custom_layer_hint(name)
        super().__init__(text)


def custom_layer_hint(name: str) -> str:
    """How to load a config that names a layer class of the user's own."""
    cls = name if name.isidentifier() and len(name) <= 40 else "MyLayer"
    return (
        f"If it is a layer class of your own, pass it to the load: "
        f"load_model(path, custom_objects={{{cls!r}: {cls}}}), and the same custom_objects "
        f"to model_from_json, model_from_yaml or model_from_config; or register it once "
        f"with lamella.plugins.register('layers', {cls})."
    )


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
            f"Install it with: {install_command(distribution)}"
        )
    if failure is None:
        return (
            f"{name} is provided by {distribution}, but the installed {distribution} "
            f"{version} does not register it; upgrade it with: "
            f"{install_command(distribution, upgrade=True)}"
        )
    return (
        f"{name} is provided by {distribution} {version}, which is installed but "
        f"failed to load: {failure}; run 'lamella plugins' for details"
    )
