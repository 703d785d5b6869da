"""The torch modes each Keras call leaves behind, and ``compile``, as the README states them.

Training calls end in eval mode whatever the mode before; inference calls leave it as
they found it. ``Model.compile`` is Keras's, and torch's stays reachable.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.layers import Dense, Dropout
from lamella.models import Sequential

X = np.random.default_rng(0).random((8, 3)).astype("float32")
Y = np.random.default_rng(1).random((8, 1)).astype("float32")


def batches():
    while True:
        yield X, Y


CALLS = {
    "fit": lambda m: m.fit(X, Y, nb_epoch=1, verbose=0),
    "fit_generator": lambda m: m.fit_generator(batches(), samples_per_epoch=8, nb_epoch=1),
    "train_on_batch": lambda m: m.train_on_batch(X, Y),
    "evaluate": lambda m: m.evaluate(X, Y, verbose=0),
    "predict": lambda m: m.predict(X),
    "test_on_batch": lambda m: m.test_on_batch(X, Y),
    "predict_on_batch": lambda m: m.predict_on_batch(X),
    "evaluate_generator": lambda m: m.evaluate_generator(batches(), val_samples=8),
    "predict_generator": lambda m: m.predict_generator((X for _ in range(1)), val_samples=8),
}
TRAINING = {"fit", "fit_generator", "train_on_batch"}


@pytest.fixture(scope="module")
def model():
    net = Sequential([Dense(4, input_dim=3), Dropout(0.5), Dense(1)])
    net.compile(optimizer=torch.optim.SGD, loss="mse")
    return net


def test_a_new_model_is_in_training_mode_as_any_module():
    assert Sequential([Dense(1, input_dim=2), Dropout(0.5)]).training


@pytest.mark.parametrize("before", ["train", "eval", "mixed"])
@pytest.mark.parametrize("call", list(CALLS))
def test_training_ends_in_eval_mode_and_inference_restores_the_mode(model, call, before):
    if before == "mixed":  # a torch user's choice: the model training, its dropout not
        model.train()
        model.layers[1].eval()
    else:
        model.train(before == "train")
    modes = [module.training for module in model.modules()]
    CALLS[call](model)
    if call in TRAINING:
        assert not any(module.training for module in model.modules())
    else:
        assert [module.training for module in model.modules()] == modes


def test_model_compile_is_keras_compile_and_torch_compile_stays_reachable():
    net = Sequential([Dense(4, input_dim=3), Dropout(0.5), Dense(1)])
    assert type(net).compile is not torch.nn.Module.compile
    net.compile(optimizer=torch.optim.SGD, loss="mse")  # Keras's: binds an optimizer
    expected = net.predict(X)
    net.eval()
    torch.nn.Module.compile(net, backend="eager")  # torch's, on the same model
    with torch.no_grad():
        out = net(torch.from_numpy(X).to(net.device)).cpu().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)
