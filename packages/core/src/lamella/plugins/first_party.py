"""What each first-party plugin distribution provides, used only to word errors.

When a name is missing, this table tells the user which ``pip install`` fixes it.
A test in the all-packages session checks that it matches what the installed
plugins really register, so it cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Provision:
    """The names (by kind) and the module paths one distribution provides, and the other
    first-party distributions besides lamella-core that it needs (installed with it from a
    clone, where pip cannot look them up on an index)."""

    names: dict[str, frozenset[str]] = field(default_factory=dict)
    modules: frozenset[str] = frozenset()
    needs: tuple[str, ...] = ()


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


CONV_LAYERS = _names(
    """
    Convolution1D Conv1D AtrousConvolution1D AtrousConv1D Convolution2D Conv2D
    AtrousConvolution2D AtrousConv2D SeparableConvolution2D SeparableConv2D
    Deconvolution2D Deconv2D Conv2DTranspose Convolution3D Conv3D
    LocallyConnected1D LocallyConnected2D
    MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D
    AveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D
    GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D
    MaxPool1D MaxPool2D MaxPool3D AvgPool1D AvgPool2D AvgPool3D
    GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D GlobalAvgPool1D GlobalAvgPool2D
    GlobalAvgPool3D
    ZeroPadding1D ZeroPadding2D ZeroPadding3D Cropping1D Cropping2D Cropping3D
    UpSampling1D UpSampling2D UpSampling3D
    """
)
RECURRENT_LAYERS = _names(
    "Recurrent SimpleRNN GRU LSTM ConvRecurrent2D ConvLSTM2D TimeDistributed Bidirectional Wrapper"
)
OPTIMIZERS = _names(
    "SGD RMSprop Adagrad Adadelta Adam Adamax Nadam sgd rmsprop adagrad adadelta adam adamax nadam"
)

#: Keras 1's ``keras.applications`` modules, each a facade over lamella-applications.
APPLICATIONS = (
    "vgg16",
    "vgg19",
    "resnet50",
    "inception_v3",
    "xception",
    "music_tagger_crnn",
    "imagenet_utils",
    "audio_conv_utils",
)

FIRST_PARTY: dict[str, Provision] = {
    "lamella-core": Provision(),
    "lamella-layers-conv": Provision(
        names={"layers": CONV_LAYERS},
        modules=frozenset(
            {"lamella.layers.convolutional", "lamella.layers.pooling", "lamella.layers.local"}
        ),
    ),
    "lamella-layers-recurrent": Provision(
        names={"layers": RECURRENT_LAYERS},
        modules=frozenset(
            {
                "lamella.layers.recurrent",
                "lamella.layers.convolutional_recurrent",
                "lamella.layers.wrappers",
            }
        ),
    ),
    "lamella-optimizers": Provision(
        names={"optimizers": OPTIMIZERS}, modules=frozenset({"lamella.optimizers"})
    ),
    "lamella-preprocessing": Provision(
        modules=frozenset(
            {
                "lamella.preprocessing.image",
                "lamella.preprocessing.sequence",
                "lamella.preprocessing.text",
                "lamella.datasets.mnist",
                "lamella.datasets.cifar10",
                "lamella.datasets.cifar100",
                "lamella.datasets.imdb",
                "lamella.datasets.reuters",
            }
        )
    ),
    "lamella-io-hdf5": Provision(
        names={"serializers": _names("hdf5 .h5 .hdf5")},
        modules=frozenset({"lamella.utils.io_utils"}),
    ),
    "lamella-applications": Provision(
        modules=frozenset(
            {"lamella.applications", *(f"lamella.applications.{m}" for m in APPLICATIONS)}
        ),
        needs=("lamella-layers-conv", "lamella-io-hdf5"),
    ),
}


def install_command(distribution: str, upgrade: bool = False) -> str:
    """The pip command that installs ``distribution``: its name on the package index and,
    for lamella's own packages, which are not published yet, the clone's folders too."""
    flag = "-U " if upgrade else ""
    command = f"pip install {flag}{distribution}"
    provision = FIRST_PARTY.get(distribution)
    if provision is None:
        return command
    folders = " ".join(
        f"./packages/{dist.removeprefix('lamella-')}" for dist in (*provision.needs, distribution)
    )
    clone = f"pip install {flag}{folders}"
    return f"{command}, or in a clone of lamella's repository, at its root: {clone}"


def provider_of(name: str, kind: str | None = None) -> str | None:
    """The first-party distribution that provides ``name`` (of ``kind``, if given)."""
    for dist, provision in FIRST_PARTY.items():
        kinds = [kind] if kind else list(provision.names)
        if any(name in provision.names.get(k, ()) for k in kinds):
            return dist
    return None


def provider_of_module(module: str) -> str | None:
    """The first-party distribution whose code stands behind a facade module path."""
    for dist, provision in FIRST_PARTY.items():
        if module in provision.modules:
            return dist
    return None
