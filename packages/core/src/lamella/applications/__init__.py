"""Keras 1's ``applications`` package (``from lamella.applications import VGG16``); the
models come from lamella-applications.  As in Keras 1, its modules are attributes of the
package (``lamella.applications.vgg16``) without importing them first."""

import importlib
from typing import TYPE_CHECKING, Any

from lamella.plugins import module_facade
from lamella.plugins.first_party import APPLICATIONS

if TYPE_CHECKING:  # type checkers and IDEs read the plugin's package itself
    from lamella.apps import *  # noqa: F403
else:
    _forward, __dir__ = module_facade(__name__, "lamella.apps", globals())

    def __getattr__(name: str) -> Any:
        if name in APPLICATIONS:
            return importlib.import_module(f"{__name__}.{name}")
        return _forward(name)
