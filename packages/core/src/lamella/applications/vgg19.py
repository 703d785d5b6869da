"""Keras 1's ``applications.vgg19`` path; the code is lamella-applications'."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.apps.vgg19", globals())
