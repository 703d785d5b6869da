"""``lamella.preprocessing.image``: forwards to lamella-preprocessing's ``lamella.preproc.image``."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.preproc.image", globals())
