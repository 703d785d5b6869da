"""Keras 1's ``layers.pooling`` module path; its layers come from lamella-layers-conv."""

from typing import TYPE_CHECKING

from lamella.engine.topology import InputSpec, Layer  # noqa: F401  (Keras 1 names of this module)
from lamella.plugins import registry_facade
from lamella.utils.np_utils import conv_output_length  # noqa: F401  (Keras 1 names of this module)

if TYPE_CHECKING:
    # What the registry gives this module path, for type checkers and IDEs only
    # (tests/core/test_facade_declarations.py keeps it in step).
    from lamella.conv import pooling as _plugin

    MaxPooling1D = _plugin.MaxPooling1D
    MaxPool1D = _plugin.MaxPooling1D
    AveragePooling1D = _plugin.AveragePooling1D
    AvgPool1D = _plugin.AveragePooling1D
    MaxPooling2D = _plugin.MaxPooling2D
    MaxPool2D = _plugin.MaxPooling2D
    AveragePooling2D = _plugin.AveragePooling2D
    AvgPool2D = _plugin.AveragePooling2D
    MaxPooling3D = _plugin.MaxPooling3D
    MaxPool3D = _plugin.MaxPooling3D
    AveragePooling3D = _plugin.AveragePooling3D
    AvgPool3D = _plugin.AveragePooling3D
    GlobalMaxPooling1D = _plugin.GlobalMaxPooling1D
    GlobalMaxPool1D = _plugin.GlobalMaxPooling1D
    GlobalAveragePooling1D = _plugin.GlobalAveragePooling1D
    GlobalAvgPool1D = _plugin.GlobalAveragePooling1D
    GlobalMaxPooling2D = _plugin.GlobalMaxPooling2D
    GlobalMaxPool2D = _plugin.GlobalMaxPooling2D
    GlobalAveragePooling2D = _plugin.GlobalAveragePooling2D
    GlobalAvgPool2D = _plugin.GlobalAveragePooling2D
    GlobalMaxPooling3D = _plugin.GlobalMaxPooling3D
    GlobalMaxPool3D = _plugin.GlobalMaxPooling3D
    GlobalAveragePooling3D = _plugin.GlobalAveragePooling3D
    GlobalAvgPool3D = _plugin.GlobalAveragePooling3D

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())
