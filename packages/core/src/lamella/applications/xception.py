"""Keras 1's ``applications.xception`` path; the code is lamella-applications'."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.apps.xception", globals())
