"""Every public name of every Keras 1.2.2 module exists at the same lamella path.

``keras.X.Y.name`` must be ``lamella.X.Y.name``. ``KERAS1_NAMES`` was generated once from
Keras 1.2.2's source: for each module, the names it defines at its top level and the Keras
classes and functions it imports from other Keras modules (``from keras.layers.core import
Merge`` worked, so it must work here), leaving out names that start with ``_`` and imported
modules. Star imports count only in packages (``keras.layers``): ``utils/layer_utils.py``'s
``from ..layers import *`` is an implementation import. ``keras.backend`` is what it holds
with the TensorFlow backend (Keras 1.2.2's default): that module's names, ``common.py``'s,
and ``backend()``.

Not in the table: ``keras.applications`` (pretrained ImageNet and audio models, another
issue's), and ``keras.backend.common``, ``.tensorflow_backend``, ``.theano_backend``
(the implementations behind ``keras.backend``, the module users import).

A name that another lamella package provides is checked only where that package is
installed: without it, lamella answers with a ``MissingPluginError`` naming the package.
"""

from __future__ import annotations

import importlib
from importlib import metadata

import pytest

from lamella.plugins import MissingPluginError

KERAS1_NAMES: dict[str, str] = {
    "activations": """
        elu get get_from_module hard_sigmoid linear relu sigmoid softmax softplus softsign tanh
    """,
    "backend": """
        Function abs all any arange argmax argmin asymmetric_spatial_2d_padding
        asymmetric_temporal_padding atrous_conv2d backend batch_dot batch_flatten
        batch_get_value batch_normalization batch_set_value binary_crossentropy cast
        cast_to_floatx categorical_crossentropy clear_session clip concatenate conv1d conv2d
        conv3d cos count_params ctc_batch_cost ctc_decode ctc_label_dense_to_sparse deconv2d dot
        dropout dtype elu epsilon equal eval exp expand_dims eye flatten floatx foldl foldr
        function gather get_session get_uid get_value get_variable_shape gradients greater
        greater_equal hard_sigmoid image_dim_ordering in_test_phase in_top_k in_train_phase
        int_shape is_keras_tensor is_sparse l2_normalize learning_phase legacy_weight_ordering
        lesser lesser_equal log manual_variable_initialization map_fn max maximum mean min
        minimum moving_average_update ndim normalize_batch_in_training not_equal one_hot ones
        ones_like permute_dimensions placeholder pool2d pool3d pow print_tensor prod py_all
        random_binomial random_normal random_normal_variable random_uniform
        random_uniform_variable relu repeat repeat_elements reset_uids reshape resize_images
        resize_volumes reverse rnn round separable_conv2d set_epsilon set_floatx
        set_image_dim_ordering set_learning_phase set_legacy_weight_ordering set_session
        set_value shape sigmoid sign sin softmax softplus softsign
        sparse_categorical_crossentropy spatial_2d_padding spatial_3d_padding sqrt square
        squeeze stack std stop_gradient sum switch tanh temporal_padding tf_major_version
        tf_minor_version tile to_dense transpose update update_add update_sub var variable zeros
        zeros_like
    """,
    "callbacks": """
        BaseLogger CSVLogger Callback CallbackList EarlyStopping History LambdaCallback
        LearningRateScheduler ModelCheckpoint Progbar ProgbarLogger ReduceLROnPlateau
        RemoteMonitor TensorBoard
    """,
    "constraints": """
        Constraint MaxNorm MinMaxNorm NonNeg UnitNorm get get_from_module maxnorm nonneg
        unitnorm
    """,
    "datasets.cifar": "load_batch",
    "datasets.cifar10": "get_file load_batch load_data",
    "datasets.cifar100": "get_file load_batch load_data",
    "datasets.imdb": "get_file get_word_index load_data",
    "datasets.mnist": "get_file load_data",
    "datasets.reuters": "get_file get_word_index load_data",
    "engine": "Input InputLayer InputSpec Layer Merge Model get_source_inputs merge",
    "engine.topology": """
        Container Input InputLayer InputSpec Layer Merge Node ask_to_proceed_with_overwrite
        func_dump func_load get_source_inputs merge object_list_uid to_list
    """,
    "engine.training": """
        Container GeneratorEnqueuer Model Progbar batch_shuffle check_array_lengths
        check_loss_and_target_compatibility collect_metrics make_batches slice_X
        standardize_class_weights standardize_input_data standardize_sample_or_class_weights
        standardize_sample_weights standardize_weights weighted_objective
    """,
    "initializations": """
        get get_fans get_from_module glorot_normal glorot_uniform he_normal he_uniform identity
        lecun_uniform normal one orthogonal uniform zero
    """,
    "layers": """
        Activation ActivityRegularization AtrousConv1D AtrousConv2D AtrousConvolution1D
        AtrousConvolution2D AveragePooling1D AveragePooling2D AveragePooling3D
        BatchNormalization Bidirectional Conv1D Conv2D Conv3D ConvLSTM2D ConvRecurrent2D
        Convolution1D Convolution2D Convolution3D Cropping1D Cropping2D Cropping3D Deconv2D
        Deconvolution2D Dense Dropout ELU Embedding Flatten GRU GaussianDropout GaussianNoise
        GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D
        GlobalMaxPooling2D GlobalMaxPooling3D Highway Input InputLayer InputSpec LSTM Lambda
        Layer LeakyReLU LocallyConnected1D LocallyConnected2D Masking MaxPooling1D MaxPooling2D
        MaxPooling3D MaxoutDense Merge PReLU ParametricSoftplus Permute Recurrent RepeatVector
        Reshape SReLU SeparableConv2D SeparableConvolution2D SimpleRNN SpatialDropout1D
        SpatialDropout2D SpatialDropout3D ThresholdedReLU TimeDistributed TimeDistributedDense
        UpSampling1D UpSampling2D UpSampling3D Wrapper ZeroPadding1D ZeroPadding2D ZeroPadding3D
        conv_input_length conv_output_length func_dump func_load get_from_module merge
        time_distributed_dense
    """,
    "layers.advanced_activations": """
        ELU Layer LeakyReLU PReLU ParametricSoftplus SReLU ThresholdedReLU
    """,
    "layers.convolutional": """
        AtrousConv1D AtrousConv2D AtrousConvolution1D AtrousConvolution2D AveragePooling1D
        AveragePooling2D AveragePooling3D Conv1D Conv2D Conv3D Convolution1D Convolution2D
        Convolution3D Cropping1D Cropping2D Cropping3D Deconv2D Deconvolution2D InputSpec Layer
        MaxPooling1D MaxPooling2D MaxPooling3D SeparableConv2D SeparableConvolution2D
        UpSampling1D UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D ZeroPadding3D
        conv_input_length conv_output_length
    """,
    "layers.convolutional_recurrent": """
        ConvLSTM2D ConvRecurrent2D InputSpec Layer conv_output_length
    """,
    "layers.core": """
        Activation ActivityRegularization Dense Dropout Flatten Highway InputSpec Lambda Layer
        Masking MaxoutDense Merge Permute RepeatVector Reshape SpatialDropout1D SpatialDropout2D
        SpatialDropout3D TimeDistributedDense func_dump func_load get_from_module
    """,
    "layers.embeddings": "Embedding Layer",
    "layers.local": "InputSpec Layer LocallyConnected1D LocallyConnected2D conv_output_length",
    "layers.noise": "GaussianDropout GaussianNoise Layer",
    "layers.normalization": "BatchNormalization InputSpec Layer",
    "layers.pooling": """
        AveragePooling1D AveragePooling2D AveragePooling3D GlobalAveragePooling1D
        GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D
        GlobalMaxPooling3D InputSpec Layer MaxPooling1D MaxPooling2D MaxPooling3D
        conv_output_length
    """,
    "layers.recurrent": "GRU InputSpec LSTM Layer Recurrent SimpleRNN time_distributed_dense",
    "layers.wrappers": "Bidirectional InputSpec Layer TimeDistributed Wrapper",
    "metrics": """
        MAE MAPE MSE MSLE binary_accuracy binary_crossentropy categorical_accuracy
        categorical_crossentropy cosine cosine_proximity f1score fbeta_score fmeasure fscore get
        get_from_module hinge kullback_leibler_divergence mae mape matthews_correlation
        mean_absolute_error mean_absolute_percentage_error mean_squared_error
        mean_squared_logarithmic_error mse msle poisson precision recall
        sparse_categorical_accuracy sparse_categorical_crossentropy squared_hinge
        top_k_categorical_accuracy
    """,
    "models": """
        Layer Merge Model Node Sequential ask_to_proceed_with_overwrite get_source_inputs
        load_model model_from_config model_from_json model_from_yaml optimizer_from_config
        save_model
    """,
    "objectives": """
        KLD MAE MAPE MSE MSLE binary_crossentropy categorical_crossentropy cosine
        cosine_proximity get get_from_module hinge kld kullback_leibler_divergence mae mape
        mean_absolute_error mean_absolute_percentage_error mean_squared_error
        mean_squared_logarithmic_error mse msle poisson sparse_categorical_crossentropy
        squared_hinge
    """,
    "optimizers": """
        Adadelta Adagrad Adam Adamax Nadam Optimizer RMSprop SGD TFOptimizer adadelta adagrad
        adam adamax clip_norm get get_custom_objects get_from_module nadam optimizer_from_config
        rmsprop sgd
    """,
    "preprocessing.image": """
        DirectoryIterator ImageDataGenerator Iterator NumpyArrayIterator apply_transform
        array_to_img flip_axis img_to_array list_pictures load_img random_channel_shift
        random_rotation random_shear random_shift random_zoom transform_matrix_offset_center
    """,
    "preprocessing.sequence": "make_sampling_table pad_sequences skipgrams",
    "preprocessing.text": "Tokenizer maketrans one_hot text_to_word_sequence",
    "regularizers": """
        ActivityRegularizer EigenvalueRegularizer L1L2Regularizer Regularizer WeightRegularizer
        activity_l1 activity_l1l2 activity_l2 get get_from_module l1 l1l2 l2
    """,
    "utils.data_utils": "Progbar get_file urlretrieve validate_file",
    "utils.generic_utils": """
        CustomObjectScope Progbar custom_object_scope func_dump func_load get_custom_objects
        get_from_module make_tuple
    """,
    "utils.io_utils": "HDF5Matrix ask_to_proceed_with_overwrite load_array save_array",
    "utils.layer_utils": """
        Model Sequential convert_all_kernels_in_model convert_kernel count_total_params
        get_custom_objects get_from_module layer_from_config print_summary
    """,
    "utils.np_utils": """
        accuracy binary_logloss categorical_probas_to_classes conv_input_length
        conv_output_length convert_kernel multiclass_logloss normalize probas_to_classes
        to_categorical
    """,
    "utils.test_utils": """
        Input Model Sequential get_test_data keras_test layer_test model_from_json
    """,
    "utils.visualize_util": "Sequential Wrapper model_to_dot plot",
    "wrappers.scikit_learn": "BaseWrapper KerasClassifier KerasRegressor Sequential to_categorical",
}

#: What lamella does not provide at these paths: ``"module"`` (all its names) or
#: ``"module:name"``, with the reason.
EXCLUDED: dict[str, str] = {
    "datasets.cifar": "the dataset loaders' gaps are another issue's",
    "datasets.cifar10": "the dataset loaders' gaps are another issue's",
    "datasets.cifar100": "the dataset loaders' gaps are another issue's",
    "datasets.imdb": "the dataset loaders' gaps are another issue's",
    "datasets.mnist": "the dataset loaders' gaps are another issue's",
    "datasets.reuters": "the dataset loaders' gaps are another issue's",
    "optimizers:TFOptimizer": "wraps a TensorFlow optimizer; lamella's counterpart is "
    "TorchOptimizer, and compile() takes torch.optim optimizers",
    "utils.visualize_util:Sequential": "imported by Keras's plot() for its own type checks",
    "utils.visualize_util:Wrapper": "imported by Keras's plot() for its own type checks",
    "backend:get_session": "TensorFlow's session; lamella runs on torch, which has none",
    "backend:set_session": "TensorFlow's session; lamella runs on torch, which has none",
    "backend:manual_variable_initialization": "TensorFlow's variable initialisation; torch "
    "tensors hold their values from the start",
    "backend:py_all": "an alias of Python's all() inside Keras's TensorFlow backend",
    "backend:tf_major_version": "TensorFlow's version",
    "backend:tf_minor_version": "TensorFlow's version",
}

#: Names other engineers are adding right now (name -> whose), skipped until they land.
#: The lead empties this.
PENDING: dict[str, str] = {}


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _skipped(module: str, name: str) -> bool:
    return module in EXCLUDED or f"{module}:{name}" in EXCLUDED or f"{module}:{name}" in PENDING


#: What :func:`_look_up` says of a name whose lamella package is not installed here.
NOT_INSTALLED = "its package is not installed"


def _look_up(module: str, name: str) -> str | None:
    """None if ``lamella.<module>.<name>`` exists, else why not (or :data:`NOT_INSTALLED`)."""
    try:
        getattr(importlib.import_module(f"lamella.{module}"), name)
    except MissingPluginError as exc:
        if not _installed(exc.distribution):
            return NOT_INSTALLED
        return f"{type(exc).__name__}: {exc}"
    except (ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("module", sorted(KERAS1_NAMES))
def test_every_keras1_name_exists_at_the_lamella_path(module: str) -> None:
    problems = {
        name: _look_up(module, name)
        for name in KERAS1_NAMES[module].split()
        if not _skipped(module, name)
    }
    missing = [
        f"lamella.{module}.{name} ({problem})"
        for name, problem in problems.items()
        if problem not in (None, NOT_INSTALLED)
    ]
    assert not missing, f"{len(missing)} Keras 1 name(s) missing:\n" + "\n".join(missing)
    if not problems:
        pytest.skip(f"keras.{module}: every name is excluded or pending")
    if all(problem == NOT_INSTALLED for problem in problems.values()):
        pytest.skip(f"lamella.{module}: its names come from a package that is not installed")


def test_exclusions_and_pending_names_are_in_the_table() -> None:
    """Each entry must name a module (or name) of the table: a misspelt one would skip nothing."""
    stale = []
    for key in [*EXCLUDED, *PENDING]:
        module, _, name = key.partition(":")
        if module not in KERAS1_NAMES or (name and name not in KERAS1_NAMES[module].split()):
            stale.append(key)
    assert not stale, f"entries that name nothing in KERAS1_NAMES: {stale}"


def test_the_table_catches_a_missing_name() -> None:
    """The lookup reports a name lamella lacks, so the test above can fail."""
    assert "no_such_function" in _look_up("utils.np_utils", "no_such_function")
    assert _look_up("utils.np_utils", "to_categorical") is None
