"""The loop path's whole-sequence kernels (``lamella.recurrent.kernels``): a forward without
autograd and a backward written by hand, for every cell the layers run on the loop path.

Two references check the hand-written backward: autograd differentiating the layer's own
step loop (``_use_kernel = False``, the path custom activations take), on every
combination of masks, dropout masks, direction and output; and finite differences in
float64 (``torch.autograd.gradcheck``) on the kernels themselves, initial states and the
reset-after GRU's recurrent bias included.  The forward is also checked against the numpy
references of Keras 1's equations in test_recurrent.py and test_gru_reset_after.py, which
run the layers on the paths they pick.
"""

from __future__ import annotations

import pytest
import torch
from recurrent_helpers import (
    IN,
    MASKS,
    B,
    N,
    T,
    fixed_dropout_masks,
    outputs_and_gradients,
    random,
    randomize,
    run,
)

from lamella.engine.topology import Input
from lamella.recurrent import kernels
from lamella.recurrent.recurrent import GRU, LSTM, SimpleRNN

CELLS = [
    (SimpleRNN, {"activation": "sigmoid"}),
    (SimpleRNN, {"activation": "relu"}),
    (SimpleRNN, {"activation": "linear"}),
    (GRU, {}),
    (GRU, {"inner_activation": "hard_sigmoid"}),
    (GRU, {"reset_after": True, "inner_activation": "hard_sigmoid"}),
    (LSTM, {"inner_activation": "hard_sigmoid"}),
    (LSTM, {"activation": "relu", "inner_activation": "hard_sigmoid"}),
    (LSTM, {}),
]
CELL_IDS = [f"{cls.__name__}-{'-'.join(map(str, kw.values())) or 'default'}" for cls, kw in CELLS]
DROPOUT = {
    "none": {},
    "per_gate": {"dropout_W": 0.3, "dropout_U": 0.4},
    "shared": {"dropout_W": 0.3, "dropout_U": 0.4, "consume_less": "gpu"},
    "U_only": {"dropout_U": 0.4},
}


def make(cls, kwargs, seed=1, **extra):
    layer = cls(N, **kwargs, **extra)
    layer(Input(shape=(None, IN)))
    randomize(layer, seed)
    layer._use_fused = False  # the loop path, whatever the configuration
    return layer


@pytest.mark.parametrize(
    ("return_sequences", "go_backwards"), [(True, False), (False, True)], ids=["seq", "back"]
)
@pytest.mark.parametrize("dropout", sorted(DROPOUT))
@pytest.mark.parametrize("mask_name", [None, "pre", "holes", "empty_row"])
@pytest.mark.parametrize(("cls", "kwargs"), CELLS, ids=CELL_IDS)
def test_kernel_matches_autograd_of_the_step_loop(
    cls, kwargs, mask_name, dropout, return_sequences, go_backwards
):
    options = {"return_sequences": return_sequences, "go_backwards": go_backwards}
    kernel = make(cls, {**kwargs, **DROPOUT[dropout]}, **options)
    steps = make(cls, {**kwargs, **DROPOUT[dropout]}, **options)
    steps._use_kernel = False
    steps.set_weights(kernel.get_weights())
    assert kernel._loop_kernel() is not None and steps._loop_kernel() is None
    if dropout != "none":  # the same masks for both (training: the layers are fresh)
        fixed_dropout_masks(kernel), fixed_dropout_masks(steps)
    x = random(B, T, IN)
    mask = None if mask_name is None else MASKS[mask_name]
    results = [outputs_and_gradients(layer, x, mask) for layer in (kernel, steps)]
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# -- finite differences -------------------------------------------------------------------

GRADCHECK = [
    ("lstm", ["tanh", "hard_sigmoid"]),
    ("lstm", ["tanh", "sigmoid"]),
    ("lstm", ["hard_sigmoid", "sigmoid"]),  # an activation with a shift after the cell
    ("lstm", ["relu", "tanh"]),  # an inner activation with an affine map after its core
    ("gru", ["tanh", "hard_sigmoid"]),
    ("gru_reset_after", ["tanh", "sigmoid"]),
    ("simple_rnn", ["tanh"]),
    ("simple_rnn", ["relu"]),
]
GATES = {"lstm": 4, "gru": 3, "gru_reset_after": 3, "simple_rnn": 1}


def kernel_problem(cell, names, masked, dropout):
    """A small float64 problem for ``kernels.run``: a function of x, the weights and the
    initial states (which returns the sequence and the final states), and those inputs."""
    batch, steps, dim, n, k = 3, 4, 3, 2, GATES[cell]
    generator = torch.Generator().manual_seed(0)

    def draw(*shape, scale=0.5):
        values = scale * torch.randn(*shape, generator=generator, dtype=torch.float64)
        return values.requires_grad_()

    x = draw(batch, steps, dim, scale=1.0)
    weights = [draw(k * n, dim), draw(k * n), draw(k * n, n)]
    if cell == "gru_reset_after":
        weights.append(draw(k * n))
    initial = [draw(batch, n) for _ in range(2 if cell == "lstm" else 1)]
    mask = None
    if masked:
        mask = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.bool)
    masks_W = masks_U = None
    if dropout != "none":
        blocks = 1 if dropout == "shared" else k
        keep = 0.6
        masks_W = (torch.rand(blocks, batch, dim, generator=generator) < keep) / keep
        masks_U = (torch.rand(blocks, batch, n, generator=generator) < keep) / keep
        masks_W, masks_U = masks_W.double(), masks_U.double()
    found = [kernels.activation(getattr(torch, name, None)) for name in names]
    if None in found:  # hard_sigmoid and linear are lamella's own
        from lamella import activations

        found = [kernels.activation(getattr(activations, name)) for name in names]

    def function(x, *tensors):
        weights_, initial_ = list(tensors[: len(weights)]), list(tensors[len(weights) :])
        sequence, finals = kernels.run(cell, x, weights_, initial_, masks_W, masks_U, mask, found)
        return (sequence, *finals)

    return function, (x, *weights, *initial)


def weighted(*outputs):
    """A fixed weighting of every output: gradients that differ from element to element."""
    return sum(
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view(y.shape)).sum() for y in outputs
    )


def outputs_and_input_gradients(function, inputs, loss=weighted):
    """``function``'s outputs, and the gradients of ``loss`` of them at copies of ``inputs``."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    outputs = function(*leaves)
    loss(*outputs).backward()
    return [y.detach() for y in outputs] + [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("dropout", ["none", "per_gate", "shared"])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "holes"])
@pytest.mark.parametrize(
    ("cell", "names"), GRADCHECK, ids=[f"{c}-{'-'.join(n)}" for c, n in GRADCHECK]
)
def test_backward_matches_finite_differences(cell, names, masked, dropout):
    """Every input's gradient in float64: x, the weights, the initial states (and the
    reset-after GRU's recurrent bias), through masks and both kinds of dropout mask."""
    function, inputs = kernel_problem(cell, names, masked, dropout)
    assert torch.autograd.gradcheck(function, inputs)


@pytest.mark.parametrize("dropout", ["none", "per_gate", "shared"])
@pytest.mark.parametrize("names", [["tanh", "hard_sigmoid"], ["tanh", "sigmoid"]])
def test_lstm_with_the_accelerators_tanh(monkeypatch, names, dropout):
    """Off the CPU the kernels run tanh as torch.tanh, not as 2·sigmoid(2z) - 1, so the
    LSTM keeps its cell state as it is: the same results, and finite differences agree."""
    function, inputs = kernel_problem("lstm", names, True, dropout)
    on_cpu = outputs_and_input_gradients(function, inputs)
    monkeypatch.setattr(kernels, "_ON_CPU", kernels._BY_NAME)
    assert torch.autograd.gradcheck(function, inputs)
    for got, expected in zip(outputs_and_input_gradients(function, inputs), on_cpu, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_inputs_and_upstream_gradients_of_any_layout(cell):
    """A time-major input seen batch-first (as from a permute), with a dropout mask per
    gate, and upstream gradients that are broadcast views (from ``sum``): the results of
    contiguous ones."""
    names = ["tanh", "hard_sigmoid"]
    function, inputs = kernel_problem(cell, names, True, "per_gate")
    x = inputs[0].detach()
    time_major = x.transpose(0, 1).contiguous().transpose(0, 1)
    assert not time_major.is_contiguous()

    def dense(*outputs):  # upstream gradients in tensors of their own
        return sum((y * torch.full_like(y, 2.0)).sum() for y in outputs)

    def broadcast(*outputs):  # upstream gradients that expand one number
        return 2 * sum(y.sum() for y in outputs)

    expected = outputs_and_input_gradients(function, inputs, dense)
    got = outputs_and_input_gradients(function, (time_major, *inputs[1:]), broadcast)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# -- which path, and what the kernels refuse ----------------------------------------------------


def _doubled(v):
    return 2.0 * torch.tanh(v)


def test_kernel_runs_known_activations_only():
    assert make(LSTM, {"inner_activation": "hard_sigmoid"})._loop_kernel()[0] == "lstm"
    assert make(GRU, {"reset_after": True, "inner_activation": "hard_sigmoid"})._loop_kernel()[
        0
    ] == ("gru_reset_after")
    assert make(LSTM, {"activation": _doubled})._loop_kernel() is None
    assert make(SimpleRNN, {"activation": "softsign"})._loop_kernel() is None


def test_a_subclass_with_its_own_step_keeps_it():
    class Halved(LSTM):
        def _step(self, x_t, states, masks_U):
            h, new = super()._step(x_t, states, masks_U)
            return h / 2, [new[0] / 2, new[1]]

    plain, halved = make(LSTM, {}, return_sequences=True), make(Halved, {}, return_sequences=True)
    halved.set_weights(plain.get_weights())
    assert halved._loop_kernel() is None
    x = random(B, T, IN)
    first = run(plain, x)[:, 0]
    torch.testing.assert_close(torch.as_tensor(run(halved, x)[:, 0]), torch.as_tensor(first) / 2)


def test_traced_by_torch_compile_the_layer_runs_the_step_loop(monkeypatch):
    layer = make(LSTM, {"inner_activation": "hard_sigmoid"})
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert layer._loop_kernel() is None


def test_first_order_gradients_with_create_graph_then_a_second_order_error():
    """K.gradients builds its graph with create_graph=True: first-order gradients work
    and agree with autograd's; differentiating them again is refused."""
    kernel = make(LSTM, {"inner_activation": "hard_sigmoid"})
    steps = make(LSTM, {"inner_activation": "hard_sigmoid"})
    steps._use_kernel = False
    steps.set_weights(kernel.get_weights())
    grads = []
    for layer in (kernel, steps):
        x = torch.as_tensor(random(B, T, IN)).requires_grad_()
        (grad,) = torch.autograd.grad(layer(x).square().sum(), x, create_graph=True)
        grads.append(grad)
    torch.testing.assert_close(grads[0], grads[1].detach(), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grads[0].sum().backward()


def test_autocast_runs_the_kernel_in_the_weights_dtype():
    layer = make(LSTM, {"inner_activation": "hard_sigmoid"}, return_sequences=True)
    x = torch.as_tensor(random(B, T, IN))
    expected = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = layer(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)


def test_float64_layers_run_in_float64():
    layer = make(GRU, {}, return_sequences=True).double()
    steps = make(GRU, {}, return_sequences=True).double()
    steps._use_kernel = False
    steps.set_weights(layer.get_weights())
    x = torch.as_tensor(random(B, T, IN), dtype=torch.float64)
    got = layer(x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, steps(x), rtol=1e-12, atol=1e-12)
