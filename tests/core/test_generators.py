"""fit_generator / evaluate_generator / predict_generator, and DataLoaders in fit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lamella.layers import Dense
from lamella.models import Sequential


def fixed_sgd(lr: float) -> type:
    class FixedSGD(torch.optim.SGD):
        def __init__(self, params):
            super().__init__(params, lr=lr)

    return FixedSGD


def setup(seed: int = 0, n: int = 48):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype("float32")
    y = (x @ rng.standard_normal((5, 2))).astype("float32")
    torch.manual_seed(seed)
    model = Sequential([Dense(4, input_dim=5, activation="tanh"), Dense(2)])
    model.compile(optimizer=fixed_sgd(0.05), loss="mse")
    return model, x, y


def batches(x, y, size, weights=None):
    """A Keras generator: loops over the data forever, in order."""
    for start in itertools.cycle(range(0, len(x), size)):
        stop = start + size
        if weights is None:
            yield x[start:stop], y[start:stop]
        else:
            yield x[start:stop], y[start:stop], weights[start:stop]


def test_fit_generator_gives_the_weights_of_fit_on_the_same_batches():
    model, x, y = setup()
    twin, _, _ = setup()
    twin.set_weights(model.get_weights())
    history = model.fit(x, y, batch_size=16, nb_epoch=3, shuffle=False, verbose=0)
    twin_history = twin.fit_generator(
        batches(x, y, 16), samples_per_epoch=48, nb_epoch=3, verbose=0
    )
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(history.history["loss"], twin_history.history["loss"], rtol=1e-6)
    assert twin_history.params["nb_sample"] == 48


@pytest.mark.parametrize("workers", [1, 3])
def test_sample_weights_and_workers(workers):
    model, x, y = setup()
    twin, _, _ = setup()
    twin.set_weights(model.get_weights())
    weights = np.tile([1.0, 0.0, 2.0, 1.0], 12).astype("float32")
    model.fit(x, y, batch_size=48, nb_epoch=2, shuffle=False, sample_weight=weights, verbose=0)
    twin.fit_generator(
        batches(x, y, 48, weights),
        samples_per_epoch=48,
        nb_epoch=2,
        verbose=0,
        nb_worker=workers,
        max_q_size=2,
    )
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_evaluate_and_predict_generators_match_the_array_methods():
    model, x, y = setup()
    assert model.evaluate_generator(batches(x, y, 16), val_samples=48) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-6
    )
    predicted = model.predict_generator((x[i : i + 16] for i in range(0, 48, 16)), val_samples=48)
    np.testing.assert_allclose(predicted, model.predict(x), rtol=1e-6)


def test_validation_from_a_generator_or_arrays():
    model, x, y = setup()
    history = model.fit_generator(
        batches(x, y, 16),
        samples_per_epoch=48,
        nb_epoch=2,
        verbose=0,
        validation_data=batches(x, y, 24),
        nb_val_samples=48,
    )
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-6
    )
    history = model.fit_generator(
        batches(x, y, 16), samples_per_epoch=48, nb_epoch=1, verbose=0, validation_data=(x, y)
    )
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-6
    )
    with pytest.raises(ValueError, match="nb_val_samples is needed"):
        model.fit_generator(
            batches(x, y, 16),
            samples_per_epoch=48,
            nb_epoch=1,
            verbose=0,
            validation_data=batches(x, y, 16),
        )


def test_dataloader_in_fit_evaluate_and_predict():
    model, x, y = setup()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16)
    history = model.fit(loader, nb_epoch=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert history.params["nb_sample"] == 48
    assert model.evaluate(loader) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)
    inputs_only = DataLoader(TensorDataset(torch.tensor(x)), batch_size=16)
    np.testing.assert_allclose(model.predict(inputs_only), model.predict(x), rtol=1e-6)


def test_bad_generators_are_explained():
    model, x, y = setup()
    with pytest.raises(ValueError, match=r"must yield \(x, y\) or \(x, y, sample_weight\)"):
        model.fit_generator(iter([x]), samples_per_epoch=48, nb_epoch=1, verbose=0)
    with pytest.warns(UserWarning, match="ran out after 32 of 48 samples"):
        model.fit_generator(
            iter([(x[:16], y[:16]), (x[16:32], y[16:32])]),
            samples_per_epoch=48,
            nb_epoch=1,
            verbose=0,
        )
    with pytest.raises(ValueError, match="samples_per_epoch is needed"):
        model.fit_generator(batches(x, y, 16), nb_epoch=1, verbose=0)


def test_shuffle_batch_permutes_whole_batches():
    """shuffle='batch' (for HDF5 data) keeps each batch's rows together, in a new order."""
    from lamella.engine.batches import ArrayBatches

    rows = torch.arange(10).unsqueeze(1)
    source = ArrayBatches([rows], [rows], [None], batch_size=4, shuffle="batch")
    torch.manual_seed(3)
    batches = [inputs[0].squeeze(1).tolist() for _, inputs, _, _ in source.epoch()]
    assert sorted(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    model, x, y = setup()
    history = model.fit(x, y, batch_size=16, nb_epoch=1, shuffle="batch", verbose=0)
    assert np.isfinite(history.history["loss"][0])
