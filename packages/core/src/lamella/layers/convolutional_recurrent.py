"""Keras 1's ``layers.convolutional_recurrent`` module path; ConvLSTM2D comes from
lamella-layers-recurrent."""

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade
from lamella.utils.np_utils import conv_output_length  # noqa: F401  (Keras 1 names of this module)

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
