"""Keras 1.2.2's ``applications.audio_conv_utils``: the input and output conventions of
``MusicTaggerCRNN`` (mel-spectrograms in, the 50 Last.fm tags of the Million Song
Dataset out).  Reading audio needs librosa (``pip install librosa``), imported only
when ``preprocess_input`` runs."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from lamella import backend as K

__all__ = ["TAGS", "decode_predictions", "preprocess_input"]

#: The tags, in the order of the model's 50 outputs.
TAGS = [
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
]  # fmt: skip

#: The spectrogram the model was trained on: 29.12 s at 12 kHz, 96 mel bands, hop 256.
SAMPLE_RATE = 12000
DURATION = 29.12
N_FFT = 512
N_MELS = 96
HOP_LENGTH = 256


def _librosa() -> Any:
    try:
        return importlib.import_module("librosa")
    except ImportError as error:
        raise ImportError(
            "audio_conv_utils.preprocess_input reads audio with librosa, which is not "
            "installed. Install it with: pip install librosa"
        ) from error


def preprocess_input(audio_path: str, dim_ordering: str = "default") -> np.ndarray:
    """The log mel-spectrogram of the middle 29.12 s of an audio file (zero-padded at the
    end when shorter), shaped ``(1, 96, 1366)`` for 'th' and ``(96, 1366, 1)`` for 'tf'."""
    if dim_ordering == "default":
        dim_ordering = K.image_dim_ordering()
    if dim_ordering not in ("th", "tf"):
        raise ValueError(
            f"preprocess_input: dim_ordering must be 'th', 'tf' or 'default', got {dim_ordering!r}"
        )
    librosa = _librosa()
    signal, rate = librosa.load(audio_path, sr=SAMPLE_RATE)
    wanted = int(DURATION * rate)
    if len(signal) < wanted:
        signal = np.concatenate([signal, np.zeros(wanted - len(signal), signal.dtype)])
    else:
        start = (len(signal) - wanted) // 2
        signal = signal[start : start + wanted]
    # As Keras 1.2.2: the squared power spectrogram in decibels (librosa's old logamplitude).
    mel = librosa.feature.melspectrogram(
        y=signal, sr=rate, hop_length=HOP_LENGTH, n_fft=N_FFT, n_mels=N_MELS
    )
    x = librosa.power_to_db(mel**2, ref=1.0)
    return x[np.newaxis] if dim_ordering == "th" else x[..., np.newaxis]


def decode_predictions(preds: Any, top_n: int = 5) -> list[list[tuple[str, Any]]]:
    """For each row of tag probabilities, the ``top_n`` tags, most probable first, as
    ``(tag, probability)``."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != len(TAGS):
        raise ValueError(
            f"decode_predictions: expected a batch of tag predictions, shape (samples, "
            f"{len(TAGS)}), got shape {preds.shape}"
        )
    return [sorted(zip(TAGS, row, strict=True), key=lambda t: t[1], reverse=True)[:top_n]
            for row in preds]  # fmt: skip
