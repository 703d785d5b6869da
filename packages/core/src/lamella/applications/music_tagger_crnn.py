"""Keras 1's ``applications.music_tagger_crnn`` path; the code is lamella-applications'."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.apps.music_tagger_crnn", globals())
