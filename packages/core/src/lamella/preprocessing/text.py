"""Keras 1's ``preprocessing.text`` path; the code is lamella-preprocessing's."""

from typing import TYPE_CHECKING

from lamella.plugins import module_facade

#: Keras 1's name for the translation-table maker (Python 3's ``str.maketrans``).
maketrans = str.maketrans

if TYPE_CHECKING:  # type checkers and IDEs read the plugin's module itself
    from lamella.preproc.text import *  # noqa: F403
else:
    __getattr__, __dir__ = module_facade(__name__, "lamella.preproc.text", globals())
