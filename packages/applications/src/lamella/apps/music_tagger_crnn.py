"""Keras 1.2.2's ``applications.music_tagger_crnn``: MusicTaggerCRNN (Choi et al., 2016),
four convolution blocks over a mel-spectrogram and two GRU layers, tagging music with
the Million Song Dataset's 50 Last.fm tags.

The GRU layers come from lamella-layers-recurrent: ``pip install
lamella-applications[music]``.  They use Keras 1's ``hard_sigmoid`` gates (lamella's GRU
defaults to ``sigmoid``), which the published weights were trained with.
"""

from __future__ import annotations

from typing import Any

from lamella import backend as K
from lamella.apps import building
from lamella.apps.audio_conv_utils import decode_predictions, preprocess_input
from lamella.apps.building import published
from lamella.engine.training import Model
from lamella.layers import (
    ELU,
    BatchNormalization,
    Convolution2D,
    Dense,
    MaxPooling2D,
    Permute,
    Reshape,
    ZeroPadding2D,
)

__all__ = ["MusicTaggerCRNN", "decode_predictions", "preprocess_input"]

#: Keras's files by dim ordering (both hold TensorFlow kernels); Keras published no hash.
WEIGHTS = {
    "th": published("v0.3", "music_tagger_crnn_weights_tf_kernels_th_dim_ordering.h5"),
    "tf": published("v0.3", "music_tagger_crnn_weights_tf_kernels_tf_dim_ordering.h5"),
}
#: Each convolution block's filters and pooling size.
BLOCKS = ((64, 2), (128, 3), (128, 4), (128, 4))


def MusicTaggerCRNN(
    weights: str | None = "msd",
    input_tensor: Any = None,
    include_top: bool = True,
    classes: int = 50,
) -> Model:
    """MusicTaggerCRNN in the configured dim ordering, with the Million Song Dataset
    weights unless ``weights=None``.

    The input is a mel-spectrogram of 96 bands by 1366 frames, ``(1, 96, 1366)`` for 'th'
    and ``(96, 1366, 1)`` for 'tf' (``preprocess_input`` makes one from an audio file).
    Without the top the model outputs the second GRU's 32 features.
    """
    from lamella.layers import GRU  # lamella-layers-recurrent; its error names the package

    building.check_weights(
        "MusicTaggerCRNN", weights, include_top, classes, pretrained="msd", pretrained_classes=50
    )
    ordering = K.image_dim_ordering()
    th = ordering == "th"
    shape = (1, 96, 1366) if th else (96, 1366, 1)
    melgram = building.image_input("MusicTaggerCRNN", input_tensor, shape)
    channel_axis, time_axis = (1, 3) if th else (3, 2)

    x = ZeroPadding2D(padding=(0, 37))(melgram)  # 1366 frames + 2 x 37 = 1440
    x = BatchNormalization(axis=time_axis, name="bn_0_freq")(x)
    for block, (filters, pool) in enumerate(BLOCKS, 1):
        x = Convolution2D(filters, 3, 3, border_mode="same", name=f"conv{block}")(x)
        x = BatchNormalization(axis=channel_axis, mode=0, name=f"bn{block}")(x)
        x = ELU()(x)
        x = MaxPooling2D(pool_size=(pool, pool), strides=(pool, pool), name=f"pool{block}")(x)
    if th:  # (128, 1, 15) -> (15, 128, 1)
        x = Permute((3, 1, 2))(x)
    x = Reshape((15, 128))(x)
    x = GRU(32, return_sequences=True, inner_activation="hard_sigmoid", name="gru1")(x)
    x = GRU(32, return_sequences=False, inner_activation="hard_sigmoid", name="gru2")(x)
    if include_top:
        x = Dense(classes, activation="sigmoid", name="output")(x)
    model = Model(building.model_inputs(input_tensor, melgram), x, name="music_tagger_crnn")
    if weights == "msd":
        building.load_published(model, WEIGHTS[ordering], by_name=True)
    return model
