"""Keras 1's ``layers.convolutional`` module path; its layers come from lamella-layers-conv."""

from typing import TYPE_CHECKING

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade
from lamella.utils.np_utils import conv_input_length, conv_output_length  # noqa: F401  (Keras 1 names of this module)

if TYPE_CHECKING:
    # What the registry gives this module path, for type checkers and IDEs only
    # (tests/core/test_facade_declarations.py keeps it in step).
    from lamella.conv import convolutional as _plugin

    Convolution1D = _plugin.Convolution1D
    Conv1D = _plugin.Convolution1D
    AtrousConvolution1D = _plugin.AtrousConvolution1D
    AtrousConv1D = _plugin.AtrousConvolution1D
    Convolution2D = _plugin.Convolution2D
    Conv2D = _plugin.Convolution2D
    AtrousConvolution2D = _plugin.AtrousConvolution2D
    AtrousConv2D = _plugin.AtrousConvolution2D
    SeparableConvolution2D = _plugin.SeparableConvolution2D
    SeparableConv2D = _plugin.SeparableConvolution2D
    Deconvolution2D = _plugin.Deconvolution2D
    Conv2DTranspose = _plugin.Deconvolution2D
    Deconv2D = _plugin.Deconvolution2D
    Convolution3D = _plugin.Convolution3D
    Conv3D = _plugin.Convolution3D
    UpSampling1D = _plugin.UpSampling1D
    UpSampling2D = _plugin.UpSampling2D
    UpSampling3D = _plugin.UpSampling3D
    ZeroPadding1D = _plugin.ZeroPadding1D
    ZeroPadding2D = _plugin.ZeroPadding2D
    ZeroPadding3D = _plugin.ZeroPadding3D
    Cropping1D = _plugin.Cropping1D
    Cropping2D = _plugin.Cropping2D
    Cropping3D = _plugin.Cropping3D

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
