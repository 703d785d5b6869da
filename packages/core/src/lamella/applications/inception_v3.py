"""Keras 1's ``applications.inception_v3`` path; the code is lamella-applications'."""

from typing import TYPE_CHECKING

from lamella.plugins import module_facade

if TYPE_CHECKING:  # type checkers and IDEs read the plugin's module itself
    from lamella.apps.inception_v3 import *  # noqa: F403
else:
    __getattr__, __dir__ = module_facade(__name__, "lamella.apps.inception_v3", globals())
