"""The imports a reader of the README and docs writes, for a type checker to resolve.

``nox -s lint`` runs mypy on this file with every package installed: each name must
resolve to its real definition (through the wheels' ``py.typed`` and the facades'
static declarations), not to an error.  Never run, only checked.
"""

from lamella import backend as K
from lamella import initializations
from lamella.applications import VGG16, imagenet_utils, vgg16
from lamella.applications.vgg16 import decode_predictions, preprocess_input
from lamella.backend import set_floatx
from lamella.callbacks import EarlyStopping, ModelCheckpoint
from lamella.datasets import cifar10, imdb, mnist, reuters
from lamella.engine import Layer
from lamella.engine.topology import Layer as TopologyLayer
from lamella.layers import (
    GRU,
    LSTM,
    Activation,
    Bidirectional,
    Conv2D,
    ConvLSTM2D,
    Convolution2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
    merge,
)
from lamella.layers.convolutional import Convolution2D as KerasModuleConvolution2D
from lamella.layers.convolutional_recurrent import ConvLSTM2D as KerasModuleConvLSTM2D
from lamella.layers.local import LocallyConnected2D
from lamella.layers.pooling import GlobalAveragePooling2D
from lamella.layers.recurrent import LSTM as KerasModuleLSTM
from lamella.layers.wrappers import TimeDistributed as KerasModuleTimeDistributed
from lamella.models import Model, Sequential, load_model, model_from_json
from lamella.optim import Adam as PluginAdam
from lamella.optimizers import SGD, Adam, RMSprop
from lamella.plugins import hookimpl
from lamella.preprocessing import image, sequence
from lamella.preprocessing.image import ImageDataGenerator
from lamella.preprocessing.text import Tokenizer
from lamella.testing import check_layer
from lamella.utils import np_utils
from lamella.utils.data_utils import cache_dir
from lamella.utils.io_utils import HDF5Matrix
from lamella.utils.np_utils import to_categorical
from lamella.wrappers.scikit_learn import KerasClassifier, KerasRegressor

EVERYDAY = (
    K.function,
    K.gradients,
    K.learning_phase,
    initializations.get,
    VGG16,
    imagenet_utils.decode_predictions,
    vgg16.VGG16,
    decode_predictions,
    preprocess_input,
    set_floatx,
    EarlyStopping,
    ModelCheckpoint,
    cifar10.load_data,
    imdb.load_data,
    imdb.get_word_index,
    mnist.load_data,
    reuters.load_data,
    Layer,
    TopologyLayer,
    GRU,
    LSTM,
    Activation,
    Bidirectional,
    Conv2D,
    ConvLSTM2D,
    Convolution2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
    merge,
    KerasModuleConvolution2D,
    KerasModuleConvLSTM2D,
    LocallyConnected2D,
    GlobalAveragePooling2D,
    KerasModuleLSTM,
    KerasModuleTimeDistributed,
    Model,
    Sequential,
    load_model,
    model_from_json,
    PluginAdam,
    SGD,
    Adam,
    RMSprop,
    hookimpl,
    image.ImageDataGenerator,
    image.load_img,
    image.img_to_array,
    sequence.pad_sequences,
    ImageDataGenerator,
    Tokenizer,
    check_layer,
    np_utils.convert_kernel,
    cache_dir,
    HDF5Matrix,
    to_categorical,
    KerasClassifier,
    KerasRegressor,
)
