"""Keras 1's ``datasets.cifar100`` path; the code is lamella-preprocessing's."""

from typing import TYPE_CHECKING

from lamella.plugins import module_facade

if TYPE_CHECKING:  # type checkers and IDEs read the plugin's module itself
    from lamella.preproc.datasets.cifar100 import *  # noqa: F403
else:
    __getattr__, __dir__ = module_facade(__name__, "lamella.preproc.datasets.cifar100", globals())
