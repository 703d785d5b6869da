"""Cropping every step (or cell) off leaves an empty axis, as Keras 1.2.2's slicing does;
cropping more than there is stays an error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamella.layers import Cropping1D, Cropping2D
from lamella.models import Sequential


@pytest.mark.parametrize("cropping", [(2, 3), (5, 0), (0, 5)])
def test_cropping1d_of_every_step_is_an_empty_sequence(cropping):
    model = Sequential([Cropping1D(cropping, input_shape=(5, 4))])
    assert model.output_shape == (None, 0, 4)
    x = np.arange(2 * 5 * 4, dtype="float32").reshape(2, 5, 4)
    out = model.predict(x)
    expected = x[:, cropping[0] : 5 - cropping[1]]  # numpy's slicing, as Keras 1 slices
    assert out.shape == expected.shape == (2, 0, 4)


def test_cropping1d_of_every_step_passes_a_zero_gradient_back():
    layer = Cropping1D((3, 2))
    Sequential([Cropping1D((0, 0), input_shape=(5, 4)), layer])
    values = torch.ones(3, 5, 4, requires_grad=True)
    layer(values).sum().backward()
    np.testing.assert_array_equal(values.grad.numpy(), np.zeros((3, 5, 4)))


def test_cropping2d_of_every_row_is_empty_too():
    model = Sequential([Cropping2D(((2, 2), (0, 0)), dim_ordering="tf", input_shape=(4, 4, 1))])
    assert model.output_shape == (None, 0, 4, 1)
    assert model.predict(np.ones((2, 4, 4, 1), "float32")).shape == (2, 0, 4, 1)


def test_cropping_more_than_there_is_is_an_error():
    with pytest.raises(ValueError, match=r"Cropping1D c: input spatial size \(5,\) is too small"):
        Sequential([Cropping1D((3, 3), input_shape=(5, 4), name="c")])
