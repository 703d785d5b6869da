"""Keras 1's ``applications.audio_conv_utils`` path; the code is lamella-applications'."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.apps.audio_conv_utils", globals())
