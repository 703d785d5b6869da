"""Keras 1's ``layers.convolutional`` module path; its layers come from lamella-layers-conv."""

from lamella.plugins import registry_facade

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
