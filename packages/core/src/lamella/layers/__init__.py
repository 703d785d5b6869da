"""Every layer, core's and the plugins': ``from lamella.layers import Dense, LSTM``.

Core's layers are imported here.  The plugins' layers are looked up in the registry
when first used (``__getattr__`` below), so a layer that a plugin provides is
importable from here, and one whose package is missing says which ``pip install``
brings it.  Type checkers and IDEs read the plugins' names from the
``TYPE_CHECKING`` block instead, which never runs (docs/architecture.md §2).
"""

from typing import TYPE_CHECKING

from lamella.engine.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Merge,
    Multiply,
    add,
    average,
    concatenate,
    dot,
    maximum,
    merge,
    multiply,
)
from lamella.engine.operation import GradientOperation, Operation
from lamella.engine.sequential import Sequential
from lamella.engine.topology import Input, InputLayer, InputSpec, Layer, LearningPhaseInput
from lamella.engine.training import Model
from lamella.layers._timesteps import time_distributed_dense
from lamella.layers.advanced_activations import (
    ELU,
    LeakyReLU,
    ParametricSoftplus,
    PReLU,
    SReLU,
    ThresholdedReLU,
)
from lamella.layers.core import (
    Activation,
    ActivityRegularization,
    Dense,
    Dropout,
    Flatten,
    Highway,
    Lambda,
    Masking,
    MaxoutDense,
    Permute,
    RepeatVector,
    Reshape,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    TimeDistributedDense,
)
from lamella.layers.embeddings import Embedding
from lamella.layers.noise import GaussianDropout, GaussianNoise
from lamella.layers.normalization import BatchNormalization
from lamella.plugins import registry_facade
from lamella.utils.generic_utils import func_dump, func_load, get_from_module
from lamella.utils.np_utils import conv_input_length, conv_output_length

if TYPE_CHECKING:
    # lamella-layers-conv's and lamella-layers-recurrent's layers, as the registry gives
    # them (aliases included); tests/core/test_facade_declarations.py keeps this in step.
    from lamella.conv import convolutional as _conv
    from lamella.conv import local as _local
    from lamella.conv import pooling as _pooling
    from lamella.recurrent import convolutional_recurrent as _conv_recurrent
    from lamella.recurrent import recurrent as _recurrent
    from lamella.recurrent import wrappers as _wrappers

    Convolution1D = _conv.Convolution1D
    Conv1D = _conv.Convolution1D
    AtrousConvolution1D = _conv.AtrousConvolution1D
    AtrousConv1D = _conv.AtrousConvolution1D
    Convolution2D = _conv.Convolution2D
    Conv2D = _conv.Convolution2D
    AtrousConvolution2D = _conv.AtrousConvolution2D
    AtrousConv2D = _conv.AtrousConvolution2D
    SeparableConvolution2D = _conv.SeparableConvolution2D
    SeparableConv2D = _conv.SeparableConvolution2D
    Deconvolution2D = _conv.Deconvolution2D
    Conv2DTranspose = _conv.Deconvolution2D
    Deconv2D = _conv.Deconvolution2D
    Convolution3D = _conv.Convolution3D
    Conv3D = _conv.Convolution3D
    UpSampling1D = _conv.UpSampling1D
    UpSampling2D = _conv.UpSampling2D
    UpSampling3D = _conv.UpSampling3D
    ZeroPadding1D = _conv.ZeroPadding1D
    ZeroPadding2D = _conv.ZeroPadding2D
    ZeroPadding3D = _conv.ZeroPadding3D
    Cropping1D = _conv.Cropping1D
    Cropping2D = _conv.Cropping2D
    Cropping3D = _conv.Cropping3D
    MaxPooling1D = _pooling.MaxPooling1D
    MaxPool1D = _pooling.MaxPooling1D
    AveragePooling1D = _pooling.AveragePooling1D
    AvgPool1D = _pooling.AveragePooling1D
    MaxPooling2D = _pooling.MaxPooling2D
    MaxPool2D = _pooling.MaxPooling2D
    AveragePooling2D = _pooling.AveragePooling2D
    AvgPool2D = _pooling.AveragePooling2D
    MaxPooling3D = _pooling.MaxPooling3D
    MaxPool3D = _pooling.MaxPooling3D
    AveragePooling3D = _pooling.AveragePooling3D
    AvgPool3D = _pooling.AveragePooling3D
    GlobalMaxPooling1D = _pooling.GlobalMaxPooling1D
    GlobalMaxPool1D = _pooling.GlobalMaxPooling1D
    GlobalAveragePooling1D = _pooling.GlobalAveragePooling1D
    GlobalAvgPool1D = _pooling.GlobalAveragePooling1D
    GlobalMaxPooling2D = _pooling.GlobalMaxPooling2D
    GlobalMaxPool2D = _pooling.GlobalMaxPooling2D
    GlobalAveragePooling2D = _pooling.GlobalAveragePooling2D
    GlobalAvgPool2D = _pooling.GlobalAveragePooling2D
    GlobalMaxPooling3D = _pooling.GlobalMaxPooling3D
    GlobalMaxPool3D = _pooling.GlobalMaxPooling3D
    GlobalAveragePooling3D = _pooling.GlobalAveragePooling3D
    GlobalAvgPool3D = _pooling.GlobalAveragePooling3D
    LocallyConnected1D = _local.LocallyConnected1D
    LocallyConnected2D = _local.LocallyConnected2D
    Recurrent = _recurrent.Recurrent
    SimpleRNN = _recurrent.SimpleRNN
    GRU = _recurrent.GRU
    LSTM = _recurrent.LSTM
    ConvRecurrent2D = _conv_recurrent.ConvRecurrent2D
    ConvLSTM2D = _conv_recurrent.ConvLSTM2D
    Wrapper = _wrappers.Wrapper
    TimeDistributed = _wrappers.TimeDistributed
    Bidirectional = _wrappers.Bidirectional

__getattr__, __dir__ = registry_facade(__name__, "layers", globals())

__all__ = [
    "ELU",
    "Activation",
    "ActivityRegularization",
    "Add",
    "Average",
    "BatchNormalization",
    "Concatenate",
    "Dense",
    "Dot",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianDropout",
    "GaussianNoise",
    "GradientOperation",
    "Highway",
    "Input",
    "InputLayer",
    "InputSpec",
    "Lambda",
    "Layer",
    "LeakyReLU",
    "LearningPhaseInput",
    "Masking",
    "Maximum",
    "MaxoutDense",
    "Merge",
    "Model",
    "Multiply",
    "Operation",
    "PReLU",
    "ParametricSoftplus",
    "Permute",
    "RepeatVector",
    "Reshape",
    "SReLU",
    "Sequential",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "ThresholdedReLU",
    "TimeDistributedDense",
    "add",
    "average",
    "concatenate",
    "conv_input_length",
    "conv_output_length",
    "dot",
    "func_dump",
    "func_load",
    "get_from_module",
    "maximum",
    "merge",
    "multiply",
    "time_distributed_dense",
]
