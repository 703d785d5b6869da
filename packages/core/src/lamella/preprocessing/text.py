"""Keras 1's ``preprocessing.text`` path; the code is lamella-preprocessing's."""

from lamella.plugins import module_facade

#: Keras 1's name for the translation-table maker (Python 3's ``str.maketrans``).
maketrans = str.maketrans

__getattr__, __dir__ = module_facade(__name__, "lamella.preproc.text", globals())
