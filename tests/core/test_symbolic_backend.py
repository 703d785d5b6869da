"""Every public backend function on symbolic tensors.

Keras 1 code applies ``K`` functions to the tensors of ``Input`` and placeholders as freely as
to values, so each function gets a case here: called on placeholders (batch axis unknown), it
must record the shape and dtype the same call gives on real data, and ``K.function`` on that
graph must give the numbers of the plain call on torch tensors.  The expected shape comes from
the plain call at two batch sizes: an axis that follows the batch size is unknown (None).
Both sizes differ from the stand-in sizes shape inference uses.  A guard test fails when a
public function has no case, so a function added later is noticed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from lamella import backend as K
from lamella.backend import state, symbolic
from lamella.engine.operation import META_SIZES, REAL_SIZES
from lamella.layers import Input

BATCH = 7  # the batch the numbers are checked on
OTHER_BATCH = 2  # a second size: result axes that change with it are unknown in the graph
assert not {BATCH, OTHER_BATCH} & {*META_SIZES, *REAL_SIZES}


@dataclass(frozen=True)
class Arg:
    """A symbolic argument: its shape (None for the batch axis), dtype and range of values
    (integers are drawn from ``[low, high)``)."""

    shape: tuple[int | None, ...]
    dtype: str = "float32"
    low: float = -2.0
    high: float = 2.0

    def sample(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        shape = tuple(batch if d is None else d for d in self.shape)
        if self.dtype.startswith("int"):
            return rng.integers(int(self.low), int(self.high), size=shape).astype(self.dtype)
        return rng.uniform(self.low, self.high, size=shape).astype(self.dtype)


def f(*shape: int | None, low: float = -2.0, high: float = 2.0) -> Arg:
    """float32 values in ``[low, high)``."""
    return Arg(shape, "float32", low, high)


def pos(*shape: int | None) -> Arg:
    """Positive floats, for logarithms, roots and variances."""
    return f(*shape, low=0.1, high=2.0)


def prob(*shape: int | None) -> Arg:
    """Probabilities away from 0 and 1."""
    return f(*shape, low=0.05, high=0.95)


def ints(*shape: int | None, low: int = 0, high: int = 4) -> Arg:
    return Arg(shape, "int32", low, high)


@dataclass(frozen=True)
class Case:
    """``call`` applies the backend function ``name`` to tensors made from ``args``; it runs
    once on placeholders and once on torch tensors, so state it makes (a variable) is made
    afresh for each."""

    name: str
    call: Callable[..., Any]
    args: Sequence[Arg]
    phase: int | None = None  # the learning phase fed to K.function and set for the plain call
    value_sized: Sequence[tuple[int, int]] = ()  # (result, axis): its size follows the values


def case(name: str, call: Callable[..., Any], *args: Arg, tag: str = "", **kwargs: Any) -> Any:
    return pytest.param(Case(name, call, args, **kwargs), id=f"{name}-{tag}" if tag else name)


def vector(*values: float) -> torch.Tensor:
    """A variable; made inside a case's call, each run of the case writes its own."""
    return K.variable(np.asarray(values, dtype="float32"))


RNG_WEIGHTS = np.random.default_rng(11)
W45 = RNG_WEIGHTS.normal(size=(4, 5)).astype("float32")
W32 = RNG_WEIGHTS.normal(size=(3, 2)).astype("float32")
U22 = RNG_WEIGHTS.normal(size=(2, 2)).astype("float32")
TABLE = RNG_WEIGHTS.normal(size=(6, 3)).astype("float32")


def rnn_step(x_t: torch.Tensor, states: list[torch.Tensor]) -> tuple[Any, list[Any]]:
    """A plain tanh recurrence over (batch, 3) inputs with a (batch, 2) state; a constant
    (if given) is added to the pre-activation."""
    pre = K.dot(x_t, torch.as_tensor(W32)) + K.dot(states[0], torch.as_tensor(U22))
    if len(states) > 1:
        pre = pre + states[1]
    h = K.tanh(pre)
    return h, [h]


X = f(None, 3, 4)
Y = f(None, 3, 4)

CASES = [
    # -- element-wise maths and activations
    case("abs", lambda x: K.abs(x), X),
    case("exp", lambda x: K.exp(x), X),
    case("log", lambda x: K.log(x), pos(None, 3, 4)),
    case("sqrt", lambda x: K.sqrt(x), pos(None, 3, 4)),
    case("square", lambda x: K.square(x), X),
    case("pow", lambda x: K.pow(x, 3), X),
    case("sin", lambda x: K.sin(x), X),
    case("cos", lambda x: K.cos(x), X),
    case("sign", lambda x: K.sign(x), X),
    case("round", lambda x: K.round(x), X),
    case("clip", lambda x: K.clip(x, -0.5, 1.0), X),
    case("relu", lambda x: K.relu(x, alpha=0.1, max_value=1.5), X),
    case("elu", lambda x: K.elu(x, alpha=0.5), X),
    case("sigmoid", lambda x: K.sigmoid(x), X),
    case("hard_sigmoid", lambda x: K.hard_sigmoid(x), X),
    case("tanh", lambda x: K.tanh(x), X),
    case("softmax", lambda x: K.softmax(x), X),
    case("softplus", lambda x: K.softplus(x), X),
    case("softsign", lambda x: K.softsign(x), X),
    case("l2_normalize", lambda x: K.l2_normalize(x, axis=1), X),
    case("cast", lambda x: K.cast(x, "int32"), X),
    case("zeros_like", lambda x: K.zeros_like(x), X),
    case("ones_like", lambda x: K.ones_like(x, dtype="int32"), X),
    case("stop_gradient", lambda x: K.stop_gradient(x), X),
    case("stop_gradient", lambda x, y: K.stop_gradient([x, y]), X, Y, tag="list"),
    case("to_dense", lambda x: K.to_dense(x), X),
    case("print_tensor", lambda x: K.print_tensor(x, "x = "), X),
    case("dropout", lambda x: K.dropout(x, 0.3, seed=5), X),
    # -- comparisons and binary maths
    case("equal", lambda a, b: K.equal(a, b), ints(None, 5), ints(None, 5)),
    case("not_equal", lambda a, b: K.not_equal(a, b), ints(None, 5), ints(None, 5)),
    case("greater", lambda x, y: K.greater(x, y), X, Y),
    case("greater_equal", lambda a, b: K.greater_equal(a, b), ints(None, 5), ints(None, 5)),
    case("less", lambda x: K.less(x, 0.5), X),
    case("less_equal", lambda a, b: K.less_equal(a, b), ints(None, 5), ints(None, 5)),
    case("lesser", lambda x, y: K.lesser(x, y), X, Y),
    case("lesser_equal", lambda a, b: K.lesser_equal(a, b), ints(None, 5), ints(None, 5)),
    case("maximum", lambda x, y: K.maximum(x, y), X, Y),
    case("minimum", lambda x: K.minimum(x, 0.5), X),
    # -- reductions
    case("sum", lambda x: K.sum(x, axis=1), X),
    case("mean", lambda x: K.mean(x, axis=[1, 2], keepdims=True), X),
    case("max", lambda x: K.max(x, axis=-1), X),
    case("min", lambda x: K.min(x), X),
    case("prod", lambda x: K.prod(x, axis=1), X),
    case("var", lambda x: K.var(x, axis=-1), X),
    case("std", lambda x: K.std(x, axis=1, keepdims=True), X),
    case("any", lambda x: K.any(K.greater(x, 1.5), axis=1), X),
    case("all", lambda x: K.all(x, axis=-1), ints(None, 3, 4)),
    case("argmax", lambda x: K.argmax(x, axis=-1), X),
    case("argmin", lambda x: K.argmin(x, axis=1), X),
    # -- linear algebra
    case("dot", lambda x: K.dot(x, torch.as_tensor(W45)), X, tag="weight"),
    case("dot", lambda x, w: K.dot(x, w), f(None, 3), f(3, 4), tag="both"),
    case("batch_dot", lambda x, y: K.batch_dot(x, K.permute_dimensions(y, (0, 2, 1))), X, Y),
    case("batch_dot", lambda x, y: K.batch_dot(x, y, axes=1), f(None, 3), f(None, 3), tag="2d"),
    case("transpose", lambda x: K.transpose(x), f(None, 3)),
    case("gather", lambda i: K.gather(torch.as_tensor(TABLE), i), ints(None, 2, high=6)),
    # -- shapes
    case("reshape", lambda x: K.reshape(x, (-1, 12)), X),
    case("permute_dimensions", lambda x: K.permute_dimensions(x, (0, 2, 1)), X),
    case("expand_dims", lambda x: K.expand_dims(x, 1), X),
    case("squeeze", lambda x: K.squeeze(x, 1), f(None, 1, 4)),
    case("flatten", lambda x: K.flatten(x), X),
    case("batch_flatten", lambda x: K.batch_flatten(x), X),
    case("concatenate", lambda x, y: K.concatenate([x, y], axis=1), X, f(None, 2, 4)),
    case("stack", lambda x, y: K.stack([x, y]), X, Y),
    case("repeat", lambda x: K.repeat(x, 4), f(None, 3)),
    case("repeat_elements", lambda x: K.repeat_elements(x, 2, axis=1), X),
    case("tile", lambda x: K.tile(x, (2, 3)), f(None, 3)),
    case("one_hot", lambda i: K.one_hot(i, 5), ints(None, 3, high=5)),
    case("reverse", lambda x: K.reverse(x, axes=1), X),
    case("asymmetric_temporal_padding", lambda x: K.asymmetric_temporal_padding(x, 1, 2), X),
    case("temporal_padding", lambda x: K.temporal_padding(x, 2), X),
    case(
        "asymmetric_spatial_2d_padding",
        lambda x: K.asymmetric_spatial_2d_padding(x, 1, 0, 2, 1, dim_ordering="tf"),
        f(None, 3, 4, 2),
    ),
    case(
        "spatial_2d_padding",
        lambda x: K.spatial_2d_padding(x, (1, 2), dim_ordering="th"),
        f(None, 2, 3, 4),
    ),
    case(
        "spatial_3d_padding",
        lambda x: K.spatial_3d_padding(x, (1, 0, 2), dim_ordering="tf"),
        f(None, 2, 3, 3, 2),
    ),
    case("resize_images", lambda x: K.resize_images(x, 2, 3, "tf"), f(None, 2, 3, 2)),
    case("resize_volumes", lambda x: K.resize_volumes(x, 2, 1, 2, "th"), f(None, 2, 2, 3, 2)),
    # -- losses and normalisation
    case(
        "categorical_crossentropy",
        lambda p, t: K.categorical_crossentropy(p, t),
        prob(None, 3, 4),
        prob(None, 3, 4),
    ),
    case(
        "categorical_crossentropy",
        lambda p, t: K.categorical_crossentropy(p, t, from_logits=True),
        X,
        prob(None, 3, 4),
        tag="logits",
    ),
    case(
        "sparse_categorical_crossentropy",
        lambda p, t: K.sparse_categorical_crossentropy(p, t),
        prob(None, 4),
        ints(None, 1),
    ),
    case(
        "binary_crossentropy",
        lambda p, t: K.binary_crossentropy(p, t),
        prob(None, 3, 4),
        prob(None, 3, 4),
    ),
    case("in_top_k", lambda p, t: K.in_top_k(p, t, 2), f(None, 5), ints(None, high=5)),
    case(
        "batch_normalization",
        lambda x, m, v: K.batch_normalization(x, m, v, vector(0.1, 0.2, 0.3, 0.4), np.full(4, 2.0)),
        X,
        f(4),
        pos(4),
    ),
    case(
        "normalize_batch_in_training",
        lambda x: K.normalize_batch_in_training(x, vector(1.0, 2.0, 3.0, 4.0), None, [0, 1]),
        X,
    ),
    # -- variables written by ops
    case("update", lambda x: K.update(vector(0.0, 0.0, 0.0, 0.0), K.sum(x, axis=(0, 1))), X),
    case(
        "update_add", lambda x: K.update_add(vector(1.0, 2.0, 3.0, 4.0), K.max(x, axis=(0, 1))), X
    ),
    case(
        "update_sub", lambda x: K.update_sub(vector(1.0, 2.0, 3.0, 4.0), K.min(x, axis=(0, 1))), X
    ),
    case(
        "moving_average_update",
        lambda x: K.moving_average_update(vector(1.0, 2.0, 3.0, 4.0), K.mean(x, axis=(0, 1)), 0.9),
        X,
    ),
    # -- learning phase and control flow
    case("in_train_phase", lambda x, y: K.in_train_phase(x * 2, y), X, Y, phase=1),
    case("in_train_phase", lambda x, y: K.in_train_phase(x * 2, y), X, Y, phase=0, tag="test"),
    case(
        "in_train_phase",
        lambda x, y: K.in_train_phase(lambda: x * 2, lambda: y),
        X,
        Y,
        phase=1,
        tag="callables",
    ),
    case("in_test_phase", lambda x, y: K.in_test_phase(x * 2, y), X, Y, phase=1),
    case("in_test_phase", lambda x, y: K.in_test_phase(x * 2, y), X, Y, phase=0, tag="test"),
    case("switch", lambda x, y: K.switch(K.greater(x, 0), x, y), X, Y),
    case(
        "switch",
        lambda x, y: K.switch(K.greater(x, 0), lambda: x * 2, lambda: y),
        X,
        Y,
        tag="callables",
    ),
    case("switch", lambda x, y: K.switch(True, lambda: x * 2, lambda: y), X, Y, tag="python_bool"),
    case(
        "rnn",
        lambda x, h0: K.rnn(rnn_step, x, [h0]),
        f(None, 4, 3),
        f(None, 2),
    ),
    case(
        "rnn",
        lambda x, h0, m, c: K.rnn(rnn_step, x, [h0], go_backwards=True, mask=m, constants=[c]),
        f(None, 4, 3),
        f(None, 2),
        ints(None, 4, high=2),
        f(None, 2),
        tag="masked_backwards_constants",
    ),
    case("map_fn", lambda x: K.map_fn(lambda row: K.sum(row * row), x), f(None, 3)),
    case("foldl", lambda x: K.foldl(lambda acc, row: acc * 0.5 + row, x), f(None, 3)),
    case(  # over a fixed axis, the batch inside each element, a symbolic initializer
        "foldr",
        lambda x, h: K.foldr(lambda acc, row: acc * 0.5 + row, x, initializer=h),
        f(4, None),
        f(None),
    ),
    # -- convolution and pooling
    case(
        "conv1d",
        lambda x: K.conv1d(x, torch.as_tensor(np.ones((3, 4, 2), "float32")), border_mode="same"),
        X,
    ),
    case(
        "conv2d",
        lambda x, w: K.conv2d(x, w, strides=(2, 1), dim_ordering="tf"),
        f(None, 5, 5, 2),
        f(3, 3, 2, 4),
    ),
    case(
        "conv2d",
        lambda x, w: K.conv2d(x, w, border_mode="full", dim_ordering="th", filter_dilation=(2, 1)),
        f(None, 2, 5, 4),
        f(3, 2, 2, 2),
        tag="th_full_dilated",
    ),
    case(
        "conv3d",
        lambda x, w: K.conv3d(x, w, border_mode="same", dim_ordering="th"),
        f(None, 2, 3, 4, 4),
        f(3, 2, 2, 2, 2),
    ),
    case(
        "atrous_conv2d",
        lambda x, w: K.atrous_conv2d(x, w, rate=2, border_mode="same", dim_ordering="tf"),
        f(None, 6, 6, 2),
        f(3, 3, 2, 3),
    ),
    case(
        "separable_conv2d",
        lambda x, d, p: K.separable_conv2d(x, d, p, dim_ordering="tf"),
        f(None, 5, 5, 2),
        f(3, 3, 2, 2),
        f(1, 1, 4, 3),
    ),
    case(
        "deconv2d",
        lambda x, w: K.deconv2d(x, w, (None, 7, 7, 4), strides=(2, 2), dim_ordering="tf"),
        f(None, 3, 3, 2),
        f(3, 3, 2, 4),
    ),
    case(
        "pool2d",
        lambda x: K.pool2d(x, (2, 2), (2, 2), "same", "tf", "avg"),
        f(None, 5, 5, 2),
    ),
    case("pool3d", lambda x: K.pool3d(x, (2, 2, 2), dim_ordering="th"), f(None, 2, 3, 4, 4)),
    # -- CTC
    case(
        "ctc_batch_cost",
        lambda t, p, n, m: K.ctc_batch_cost(t, p, n, m),
        ints(None, 3, high=3),
        prob(None, 6, 4),
        ints(None, 1, low=5, high=7),
        ints(None, 1, low=1, high=4),
    ),
    case(
        "ctc_decode",
        lambda p, n: K.ctc_decode(p, n),
        prob(None, 6, 4),
        ints(None, low=3, high=7),
        value_sized=[(0, 1)],  # the longest decoded sequence
    ),
    case(
        "ctc_decode",
        lambda p, n: K.ctc_decode(p, n, greedy=False, beam_width=3, top_paths=2),
        prob(None, 6, 4),
        ints(None, low=3, high=7),
        tag="beam",
        value_sized=[(0, 1), (1, 1)],
    ),
    case(
        "ctc_label_dense_to_sparse",
        lambda t, n: K.to_dense(K.ctc_label_dense_to_sparse(t, n)),
        ints(None, 4, high=3),
        ints(None, high=5),
    ),
]


def leaves(result: Any) -> list[Any]:
    """The tensors of a result, in order, through nested tuples and lists."""
    if isinstance(result, (list, tuple)):
        return [leaf for item in result for leaf in leaves(item)]
    return [result]


def run_plain(item: Case, arrays: list[np.ndarray]) -> list[torch.Tensor]:
    with state.learning_phase_scope(item.phase or 0):
        return leaves(item.call(*(torch.as_tensor(a) for a in arrays)))


def to_numpy(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy()


@pytest.mark.parametrize("item", CASES)
def test_symbolic_call_matches_the_plain_call(item: Case) -> None:
    rng = np.random.default_rng(0)
    arrays = [arg.sample(rng, BATCH) for arg in item.args]
    others = [arg.sample(rng, OTHER_BATCH) for arg in item.args]
    inputs = [K.placeholder(shape=arg.shape, dtype=arg.dtype) for arg in item.args]

    graph = leaves(item.call(*inputs))
    plain = run_plain(item, arrays)
    plain_other = run_plain(item, others)

    assert len(graph) == len(plain)
    for index, (tensor, value, other) in enumerate(zip(graph, plain, plain_other, strict=True)):
        assert K.is_keras_tensor(tensor)
        expected = tuple(
            None if a != b or (index, axis) in item.value_sized else a
            for axis, (a, b) in enumerate(zip(value.shape, other.shape, strict=True))
        )
        assert K.int_shape(tensor) == expected, f"result {index}"
        assert K.dtype(tensor) == K.dtype(value), f"result {index}"

    fed, values = inputs, arrays
    if item.phase is not None:
        fed, values = [*inputs, K.learning_phase()], [*arrays, item.phase]
    results = K.function(fed, graph)(values)
    for got, value in zip(results, plain, strict=True):
        np.testing.assert_allclose(got, to_numpy(value), rtol=1e-5, atol=1e-6)


def test_print_tensor_prints_when_the_graph_runs(capsys: pytest.CaptureFixture[str]) -> None:
    x = K.placeholder(shape=(None, 2))
    printed = K.print_tensor(x * 2, "twice: ")
    assert capsys.readouterr().out == ""  # building the graph prints nothing
    K.function([x], [printed])([np.array([[1.0, 2.5]], "float32")])
    assert capsys.readouterr().out == "twice: [[2. 5.]]\n"


#: Functions that answer a question about a tensor instead of computing one.
QUERIES = {*symbolic.SHAPE_QUERIES, "is_sparse"}


def test_queries_answer_what_the_data_will_have() -> None:
    x = K.placeholder(shape=(None, 3, 4))
    ids = Input(batch_shape=(5, 2), dtype="int64")
    a = torch.zeros(BATCH, 3, 4)
    i = torch.zeros(5, 2, dtype=torch.int64)
    assert K.int_shape(x) == (None, *K.int_shape(a)[1:])
    assert K.get_variable_shape(x) == (None, *K.get_variable_shape(a)[1:])
    assert K.shape(x) == (None, *tuple(K.shape(a))[1:])
    assert K.ndim(x) == K.ndim(a) == 3
    assert K.dtype(x) == K.dtype(a) == "float32"
    assert K.dtype(ids) == K.dtype(i) == "int64"
    assert K.int_shape(ids) == K.int_shape(i) == (5, 2)
    assert K.count_params(ids) == K.count_params(i) == 10
    with pytest.raises(ValueError, match="unknown dimensions"):
        K.count_params(x)
    assert K.is_sparse(x) is K.is_sparse(a) is False  # symbolic tensors are dense


#: Public functions with no symbolic case, and why (none today; add one only with a reason).
NOT_APPLICABLE: frozenset[str] = frozenset()

#: Modules whose functions configure the backend or make symbolic inputs, not tensor ops.
CONFIG_MODULES = {
    "lamella.backend.config",
    "lamella.backend.state",
    "lamella.backend.symbolic",
    "lamella.backend.weight_ordering",
    "lamella.engine.function",  # K.Function, the class K.function returns
}


def test_every_public_tensor_function_has_a_symbolic_case() -> None:
    """A function added to the backend later gets a case, or a reason here why not.

    Functions that make variables or read values (``symbolic.NOT_RECORDED``) take no
    symbolic tensors; the queries have their own test.
    """
    covered = {param.values[0].name for param in CASES}
    missing = sorted(
        name
        for name in K.__all__
        if getattr(K, name).__module__ not in CONFIG_MODULES
        and name not in symbolic.NOT_RECORDED
        and name not in QUERIES | NOT_APPLICABLE | covered
    )
    assert not missing, f"backend functions without a symbolic case: {missing}"
    assert covered <= set(K.__all__), "cases name functions the backend does not have"
    assert not NOT_APPLICABLE & covered, "a function with a case is not 'not applicable'"
