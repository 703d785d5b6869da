"""Keras 1's ``datasets.cifar100`` path; the code is lamella-preprocessing's."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.preproc.datasets.cifar100", globals())
