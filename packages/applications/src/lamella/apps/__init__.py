"""lamella-applications: Keras 1.2.2's ``keras.applications`` (``lamella.applications``).

As in Keras 1.2.2 the package exports the five ImageNet models; MusicTaggerCRNN is
imported from its module, ``lamella.applications.music_tagger_crnn``.  The models are
imported when first asked for: the plugin manager imports ``lamella.apps.plugin`` (and
so this package) while it builds the registries, when the layers the models are made of
cannot be looked up yet.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamella.apps.inception_v3 import InceptionV3
    from lamella.apps.resnet50 import ResNet50
    from lamella.apps.vgg16 import VGG16
    from lamella.apps.vgg19 import VGG19
    from lamella.apps.xception import Xception

__all__ = ["VGG16", "VGG19", "InceptionV3", "ResNet50", "Xception"]

_MODULES = {
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "InceptionV3": "inception_v3",
    "ResNet50": "resnet50",
    "Xception": "xception",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
