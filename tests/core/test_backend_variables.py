"""K.random_uniform_variable, K.random_normal_variable, K.is_sparse, K.to_dense and the
legacy weight-ordering flag."""

import numpy as np
import pytest
import torch

from lamella import backend as K


def test_random_uniform_variable_is_a_trainable_draw_from_its_range():
    var = K.random_uniform_variable((200, 100), -2.0, 3.0, name="u")
    assert isinstance(var, torch.nn.Parameter) and var.requires_grad
    assert var.shape == (200, 100) and var.dtype == torch.float32 and var._keras_name == "u"
    values = var.detach().numpy()
    assert values.min() >= -2.0 and values.max() < 3.0
    # 20000 draws: the mean of U(-2, 3) is 0.5, its standard deviation 5 / sqrt(12).
    assert abs(values.mean() - 0.5) < 0.05
    assert abs(values.std() - 5 / np.sqrt(12)) < 0.05


def test_random_normal_variable_has_its_mean_and_scale():
    var = K.random_normal_variable((200, 100), 1.5, 0.25, dtype="float64")
    assert isinstance(var, torch.nn.Parameter) and var.dtype == torch.float64
    values = var.detach().numpy()
    assert abs(values.mean() - 1.5) < 0.01
    assert abs(values.std() - 0.25) < 0.01


def test_a_seed_repeats_the_draw_and_leaves_the_global_generator_alone():
    state = torch.get_rng_state()
    first = K.random_normal_variable((3, 4), 0.0, 1.0, seed=7)
    second = K.random_normal_variable((3, 4), 0.0, 1.0, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, second)
    assert not torch.equal(first, K.random_normal_variable((3, 4), 0.0, 1.0, seed=8))


def test_random_variables_refuse_integer_dtypes():
    with pytest.raises(ValueError, match="random_uniform_variable: dtype must be a floating"):
        K.random_uniform_variable((2,), 0, 1, dtype="int32")


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_is_sparse_and_to_dense():
    dense = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    assert not K.is_sparse(dense) and not K.is_sparse(dense.numpy())
    assert K.to_dense(dense) is dense
    for sparse in (dense.to_sparse(), dense.to_sparse_csr()):
        assert K.is_sparse(sparse)
        densified = K.to_dense(sparse)
        assert not K.is_sparse(densified) and torch.equal(densified, dense)


@pytest.fixture
def restore_flag():
    saved = K.legacy_weight_ordering()
    yield
    K.set_legacy_weight_ordering(saved)


def test_legacy_weight_ordering_flag(restore_flag):
    assert K.legacy_weight_ordering() is False
    K.set_legacy_weight_ordering(True)
    assert K.legacy_weight_ordering() is True
    with pytest.raises(ValueError, match="set_legacy_weight_ordering: value must be True or False"):
        K.set_legacy_weight_ordering("yes")
    assert K.legacy_weight_ordering() is True
