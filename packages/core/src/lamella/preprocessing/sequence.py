"""``lamella.preprocessing.sequence``: forwards to lamella-preprocessing's ``lamella.preproc.sequence``."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.preproc.sequence", globals())
