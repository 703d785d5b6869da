"""K.rnn, K.map_fn, K.foldl and K.foldr against numpy loops."""

import numpy as np
import pytest
import torch

from lamella import backend as K


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# A two-state cell (output h, and a running sum c), with a constant scale, in torch and numpy.


def torch_step(x, states):
    h, c, W, U, scale = states
    new_h = torch.tanh(x @ W + h @ U) * scale
    return new_h, [new_h, c + x.sum(dim=1, keepdim=True)]


def np_rnn(x, h, c, W, U, scale, mask=None, go_backwards=False):
    """Keras's masked semantics: a masked step keeps every state, the output repeats h."""
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs = []
    for t in steps:
        new_h = np.tanh(x[:, t] @ W + h @ U) * scale
        new_c = c + x[:, t].sum(axis=1, keepdims=True)
        if mask is not None:
            keep = mask[:, t].astype(bool)[:, None]
            new_h, new_c = np.where(keep, new_h, h), np.where(keep, new_c, c)
        outputs.append(new_h)
        h, c = new_h, new_c
    return outputs[-1], np.stack(outputs, axis=1), [h, c]


def cell_data():
    x, W, U = rand(3, 5, 4), rand(4, 2, seed=1) * 0.5, rand(2, 2, seed=2) * 0.5
    h0, c0 = rand(3, 2, seed=3), np.zeros((3, 1))
    return x, h0, c0, W, U


MASK = np.array([[1, 1, 1, 1, 1], [0, 1, 1, 0, 1], [1, 1, 0, 0, 0]], dtype=np.float32)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask", [None, MASK, MASK[:, :, None]], ids=["none", "2d", "3d"])
@pytest.mark.parametrize("unroll", [False, True])
def test_rnn_matches_a_numpy_loop(go_backwards, mask, unroll):
    x, h0, c0, W, U = cell_data()
    scale = 1.5
    last, outputs, states = K.rnn(
        torch_step,
        torch.tensor(x),
        [torch.tensor(h0), torch.tensor(c0)],
        go_backwards=go_backwards,
        mask=None if mask is None else torch.tensor(mask),
        constants=[torch.tensor(W), torch.tensor(U), scale],
        unroll=unroll,
        input_length=5,
    )
    flat_mask = None if mask is None else mask.reshape(3, 5)
    expected = np_rnn(x, h0, c0, W, U, scale, flat_mask, go_backwards)
    np.testing.assert_allclose(last.numpy(), expected[0], rtol=1e-12)
    np.testing.assert_allclose(outputs.numpy(), expected[1], rtol=1e-12)
    assert isinstance(states, list) and len(states) == 2
    for got, want in zip(states, expected[2], strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_a_masked_first_step_repeats_the_initial_output_state():
    x, h0, c0, W, U = cell_data()
    mask = torch.tensor([[0, 1, 1, 1, 1]] * 3)
    _, outputs, _ = K.rnn(
        torch_step,
        torch.tensor(x),
        [torch.tensor(h0), torch.tensor(c0)],
        mask=mask,
        constants=[torch.tensor(W), torch.tensor(U), 1.0],
    )
    np.testing.assert_allclose(outputs[:, 0].numpy(), h0)


def test_rnn_broadcasts_the_mask_over_outputs_of_any_rank():
    def step(x, states):
        out = states[0] + x
        return out, [out]

    x = torch.ones(2, 3, 2, 2)
    mask = torch.tensor([[1, 0, 1], [1, 1, 1]])
    last, outputs, (state,) = K.rnn(step, x, [torch.zeros(2, 2, 2)], mask=mask)
    np.testing.assert_allclose(outputs[:, :, 0, 0].numpy(), [[1, 1, 2], [1, 2, 3]])
    np.testing.assert_allclose(last[:, 0, 0].numpy(), [2, 3])
    np.testing.assert_allclose(state[:, 1, 1].numpy(), [2, 3])


def test_rnn_is_differentiable():
    x, h0, c0, W, U = (torch.tensor(a, requires_grad=True) for a in cell_data())

    def run(x, h0, W, U):
        _, outputs, _ = K.rnn(
            torch_step, x, [h0, c0], mask=torch.tensor(MASK), constants=[W, U, 1.0]
        )
        return outputs

    assert torch.autograd.gradcheck(run, (x, h0, W, U))


def test_rnn_errors():
    x = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="rnn: inputs must be at least 3D"):
        K.rnn(torch_step, torch.zeros(2, 3), [])
    with pytest.raises(ValueError, match="rnn: a mask needs initial states"):
        K.rnn(lambda x, s: (x, []), x, [], mask=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"rnn: mask must have shape \(samples, time\)"):
        K.rnn(lambda x, s: (x, [x]), x, [torch.zeros(2, 4)], mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="rnn: the step function returned 2 states for 1"):
        K.rnn(lambda x, s: (x, [x, x]), x, [torch.zeros(2, 4)])


# --------------------------------------------------------------------------------------------
# map_fn and folds


def test_map_fn_stacks_the_results_of_each_slice():
    elems = rand(4, 3, 2)
    out = K.map_fn(lambda m: m.T @ m, torch.tensor(elems))
    np.testing.assert_allclose(out.numpy(), np.stack([m.T @ m for m in elems]), rtol=1e-12)


def test_folds_run_in_their_direction():
    """acc * 10 + x is order-sensitive: foldl reads digits left to right, foldr right to left."""
    digits = torch.tensor([1.0, 2.0, 3.0])
    assert K.foldl(lambda acc, x: acc * 10 + x, digits).item() == 123
    assert K.foldr(lambda acc, x: acc * 10 + x, digits).item() == 321
    assert (
        K.foldl(lambda acc, x: acc * 10 + x, digits, initializer=torch.tensor(4.0)).item() == 4123
    )
    assert (
        K.foldr(lambda acc, x: acc * 10 + x, digits, initializer=torch.tensor(4.0)).item() == 4321
    )


def test_folds_over_rows_match_numpy_and_are_differentiable():
    elems = torch.tensor(rand(4, 3), requires_grad=True)
    total = K.foldl(lambda acc, row: acc * row, elems)
    np.testing.assert_allclose(total.detach().numpy(), np.prod(elems.detach().numpy(), axis=0))
    assert torch.autograd.gradcheck(lambda e: K.foldr(lambda acc, row: acc + row**2, e), (elems,))
    assert torch.autograd.gradcheck(lambda e: K.map_fn(lambda row: row.sum() * row, e), (elems,))


def test_empty_elems_are_refused():
    with pytest.raises(ValueError, match="foldl: elems must have at least one element"):
        K.foldl(lambda acc, x: acc + x, torch.zeros(0, 2))
