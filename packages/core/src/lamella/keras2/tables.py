"""The one table of Keras 2 (and 3) spellings: which classes and arguments become which
Keras 1 ones, which arguments may be dropped quietly, and which must hold the one value
lamella's layers compute as. Layer constructors (``construct``) and the Keras 2/3 file
reader (lamella-io-hdf5) both read it; ``docs/keras2.md`` is generated from it
(``python -m lamella.keras2.reference``).
"""

from __future__ import annotations

from typing import Any

#: Keras 1's 1D layers have no dim_ordering: Keras 2/3's data_format is dropped when
#: 'channels_last' and refused otherwise (see ``_refuse`` in config.py).
_1D = {"data_format": "data_format"}
_POOL_1D = {"pool_size": "pool_length", "strides": "stride", **_1D}

#: Keras 2/3 class -> the lamella (Keras 1) class and extra per-class argument renames.
CLASSES: dict[str, tuple[str, dict[str, str]]] = {
    "Functional": ("Model", {}),
    "Conv1D": ("Convolution1D", {"strides": "subsample_length", **_1D}),
    "Conv2D": ("Convolution2D", {"strides": "subsample"}),
    "Conv3D": ("Convolution3D", {"strides": "subsample"}),
    "Conv2DTranspose": ("Deconvolution2D", {"strides": "subsample"}),
    "SeparableConv2D": (
        "SeparableConvolution2D",
        {"strides": "subsample", "depthwise_initializer": "init"},
    ),
    "LocallyConnected1D": ("LocallyConnected1D", {"strides": "subsample_length", **_1D}),
    "LocallyConnected2D": ("LocallyConnected2D", {"strides": "subsample"}),
    "MaxPooling1D": ("MaxPooling1D", _POOL_1D),
    "AveragePooling1D": ("AveragePooling1D", _POOL_1D),
    "UpSampling1D": ("UpSampling1D", {"size": "length", **_1D}),
    "ZeroPadding1D": ("ZeroPadding1D", {"padding": "padding", **_1D}),
    "ZeroPadding2D": ("ZeroPadding2D", {"padding": "padding"}),
    "ZeroPadding3D": ("ZeroPadding3D", {"padding": "padding"}),
    "Cropping1D": ("Cropping1D", _1D),
    "GlobalAveragePooling1D": ("GlobalAveragePooling1D", _1D),
    "GlobalMaxPooling1D": ("GlobalMaxPooling1D", _1D),
    "Embedding": ("Embedding", {"embeddings_initializer": "init"}),
    "PReLU": ("PReLU", {"alpha_initializer": "init"}),
    "LeakyReLU": ("LeakyReLU", {"negative_slope": "alpha"}),
    "Dot": ("Merge", {"axes": "dot_axes"}),
    "ConvLSTM2D": ("ConvLSTM2D", {"strides": "subsample"}),
    "GaussianNoise": ("GaussianNoise", {}),
    "GaussianDropout": ("GaussianDropout", {}),
    **{
        f"{short}{rank}D": (f"{long}{rank}D", renames if rank == 1 else {})
        for short, long, renames in (
            ("MaxPool", "MaxPooling", _POOL_1D),
            ("AvgPool", "AveragePooling", _POOL_1D),
            ("GlobalMaxPool", "GlobalMaxPooling", _1D),
            ("GlobalAvgPool", "GlobalAveragePooling", _1D),
        )
        for rank in (1, 2, 3)
    },
}


def keras2_names(keras1_class: str) -> list[str]:
    """The Keras 2 class names of a Keras 1 class (``Conv2DTranspose`` for Deconvolution2D)."""
    return sorted(k2 for k2, (k1, _) in CLASSES.items() if k1 == keras1_class and k2 != k1)


#: Keras 2/3 convolutions with a ``dilation_rate`` other than 1 -> lamella's atrous class.
DILATED = {"Conv1D": "AtrousConvolution1D", "Conv2D": "AtrousConvolution2D"}

#: Keras 2/3's merge layers -> the ``mode`` of Keras 1's one Merge layer (Dot: 'dot', or
#: 'cos' with ``normalize=True``).
MERGE_MODES = {
    "Add": "sum",
    "Multiply": "mul",
    "Average": "ave",
    "Maximum": "max",
    "Concatenate": "concat",
    "Dot": "dot",
}
CLASSES.update(
    {name: ("Merge", {"axis": "concat_axis"}) for name in MERGE_MODES if name not in CLASSES}
)

#: Keras 2/3 layers with no Keras 1 counterpart in lamella, and why.
UNSUPPORTED = {
    "Subtract": "Keras 1's Merge has no mode that subtracts",
    "Minimum": "Keras 1's Merge has no mode that takes the minimum",
    "Lambda": (
        "Keras 2/3 store a Lambda's function as Python bytecode of their own Python "
        "version; rebuild the model in Python and load the file with load_weights"
    ),
}

#: Keras 2/3 models nested in a model as layers.
MODELS = ("Sequential", "Functional", "Model")

#: Keras 2/3 argument -> Keras 1 argument, for every class (after the per-class renames).
RENAMES = {
    "units": "output_dim",
    "filters": "nb_filter",
    "padding": "border_mode",
    "data_format": "dim_ordering",
    "dilation_rate": "atrous_rate",
    "kernel_initializer": "init",
    "recurrent_initializer": "inner_init",
    "recurrent_activation": "inner_activation",
    "kernel_regularizer": "W_regularizer",
    "recurrent_regularizer": "U_regularizer",
    "bias_regularizer": "b_regularizer",
    "embeddings_regularizer": "W_regularizer",
    "kernel_constraint": "W_constraint",
    "bias_constraint": "b_constraint",
    "embeddings_constraint": "W_constraint",
    "use_bias": "bias",
    "dropout": "dropout_W",
    "recurrent_dropout": "dropout_U",
    "rate": "p",
    "stddev": "sigma",
    "gamma_initializer": "gamma_init",
    "beta_initializer": "beta_init",
    "batch_shape": "batch_input_shape",
    "dtype": "input_dtype",
}

#: Arguments dropped without a warning when they hold this value (Keras 1's behaviour);
#: ``ANY`` drops them whatever they hold (initial values, seeds: nothing a loaded model
#: uses).  None (no regularizer, no constraint) is always dropped quietly.
ANY = object()
DEFAULTS: dict[str, Any] = {
    "seed": ANY,
    "bias_initializer": ANY,
    "pointwise_initializer": ANY,
    "moving_mean_initializer": ANY,
    "moving_variance_initializer": ANY,
    "renorm_momentum": ANY,
    "renorm_clipping": ANY,
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": ANY,
    "zero_output_for_mask": ANY,
    "reset_after": False,
    "ragged": False,
    "optional": False,
    "synchronized": False,
    "renorm": False,
    "center": True,
    "scale": True,
    "noise_shape": None,
    "recurrent_constraint": None,
    "implementation": ANY,
    "unit_forget_bias": ANY,
    "data_format": "channels_last",
    "dim_ordering": "tf",
    "bias": True,
}

#: Arguments that change what a layer computes, with the one value lamella's Keras 1
#: layer computes as.  Where the lamella class has no such argument, another value is
#: refused (naming the layer and the argument) rather than dropped; the value itself is
#: dropped quietly.
REQUIRED: dict[str, Any] = {
    "dilation_rate": 1,  # Conv1D/Conv2D's become AtrousConvolution1D/2D's atrous_rate
    "groups": 1,
    "interpolation": "nearest",
    "keepdims": False,
    "return_state": False,
    "time_major": False,
}
