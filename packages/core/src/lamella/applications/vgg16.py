"""Keras 1's ``applications.vgg16`` path; the code is lamella-applications'."""

from typing import TYPE_CHECKING

from lamella.plugins import module_facade

if TYPE_CHECKING:  # type checkers and IDEs read the plugin's module itself
    from lamella.apps.vgg16 import *  # noqa: F403
else:
    __getattr__, __dir__ = module_facade(__name__, "lamella.apps.vgg16", globals())
