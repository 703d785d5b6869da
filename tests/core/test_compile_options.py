"""compile's Theano-only keywords: accepted with a warning, as Keras 1 on TensorFlow did.

Keras 1 passed compile's extra keywords on to ``theano.function``; its TensorFlow
backend warned and ignored them.  Names that neither lamella nor Theano knows stay
errors (Keras 1 on Theano refused them too).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from lamella.layers import Dense
from lamella.models import Sequential


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


def model():
    torch.manual_seed(0)
    return Sequential([Dense(1, input_dim=2)])


@pytest.mark.parametrize(
    "options",
    [{"mode": "FAST_RUN"}, {"mode": "DebugMode", "profile": True}, {"givens": {}, "name": "f"}],
)
def test_theano_options_are_accepted_with_a_warning_and_change_nothing(options):
    x = np.array([[1.0, 2.0], [3.0, -1.0]], "float32")
    y = np.array([[1.0], [0.0]], "float32")
    plain, optioned = model(), model()
    plain.compile(optimizer=fixed_sgd(0.1), loss="mse")
    with pytest.warns(UserWarning, match=r"compile: ignoring .*Theano") as caught:
        optioned.compile(optimizer=fixed_sgd(0.1), loss="mse", **options)
    assert all(name in str(caught[0].message) for name in options)
    plain.fit(x, y, nb_epoch=2, verbose=0)
    optioned.fit(x, y, nb_epoch=2, verbose=0)
    for a, b in zip(plain.get_weights(), optioned.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_misspelled_argument_is_still_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no Theano warning for it
        with pytest.raises(TypeError, match=r"compile: unexpected keyword argument\(s\) metircs"):
            model().compile(optimizer=fixed_sgd(0.1), loss="mse", metircs=["acc"])
