"""``lamella.preprocessing.text``: forwards to lamella-preprocessing's ``lamella.preproc.text``."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.preproc.text", globals())
