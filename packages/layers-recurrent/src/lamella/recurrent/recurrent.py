"""Keras 1's recurrent layers: ``SimpleRNN``, ``GRU`` and ``LSTM`` on one ``Recurrent`` base.

Storage.  Each layer keeps its weights as ``nn.Parameter``s in the layout torch's fused
RNN kernels take, so the kernel reads them with no copy per call:

* ``weight_ih`` (k·n, input_dim) and ``weight_hh`` (k·n, n): the gate blocks stacked
  by rows, i.e. Keras's ``W``/``U`` transposed;
* ``bias`` (k·n): Keras's one bias (the kernel's second bias is a zero buffer), and
  for ``GRU(reset_after=True)`` a fourth Parameter, ``recurrent_bias`` (k·n): the
  bias added to ``h·U``, which the kernel takes as its second bias.

k is the number of gate blocks: 1 (SimpleRNN), 3 (GRU: z, r, h; with reset_after
torch's r, z, n), 4 (LSTM: i, f, c, o; torch's i, f, g, o).  ``weights``,
``get_weights`` and ``set_weights`` speak Keras 1: the arrays are views of these
Parameters (transposed, sliced per gate for ``consume_less='cpu'``/``'mem'``, and in
every layout for ``GRU(reset_after=True)``), named as Keras names them (``lstm_1_W_i``).

Paths.  A layer whose maths the fused kernel computes (``layer.path == 'fused'``)
runs ``torch._VF.lstm`` / ``gru`` / ``rnn_tanh`` / ``rnn_relu`` (cuDNN on a GPU).
Anything else runs the step loop: the input projections of every step in one
matmul, then one ``addmm`` and the gate arithmetic per step.

Masks follow Keras: a masked step leaves the states unchanged and outputs the
previous ``h`` (the initial state before the first kept step).  A mask that keeps
one contiguous run of steps per sample (pre- or post-padding) still takes the
fused path, through a packed sequence; any other mask takes the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import _VF
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lamella import activations, initializers
from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.engine.weight_arguments import WeightArguments, function_name
from lamella.recurrent import kernels
from lamella.utils.arguments import check_fraction, check_int

logger = logging.getLogger("lamella.recurrent")

_CONSUME_LESS = ("cpu", "mem", "gpu")
_TANH = (activations.tanh, torch.tanh, F.tanh)
_SIGMOID = (activations.sigmoid, torch.sigmoid, F.sigmoid)
_RELU = (activations.relu, torch.relu, F.relu)

Tensor = torch.Tensor
Masks = Tensor | None


def _affine(bias: Tensor, h: Tensor, U: Tensor, masks: Masks) -> Tensor:
    """``bias + h·U``, where each gate block of U sees h times its own dropout mask.

    ``masks`` is None, one shared mask (1, b, n), or one per block (k, b, n).
    """
    if masks is None:
        return torch.addmm(bias, h, U)
    if masks.shape[0] == 1:
        return torch.addmm(bias, h * masks[0], U)
    k, n = masks.shape[0], h.shape[1]
    blocks = U.unflatten(1, (k, n)).transpose(0, 1)  # (k, n, n), block g = U[:, g*n:(g+1)*n]
    per_gate = torch.bmm(h * masks, blocks)  # (k, b, n)
    return bias + per_gate.transpose(0, 1).reshape(h.shape[0], k * n)


def _gate_masks(masks: Masks, gates: slice) -> Masks:
    """The masks of some gate blocks (a shared mask serves every block)."""
    if masks is None or masks.shape[0] == 1:
        return masks
    return masks[gates]


class _OneGate:
    """A regularizer applied to one gate's slice of a fused weight, in Keras's layout
    (``(input, units)`` for a kernel): the penalty Keras 1 adds for that gate's array."""

    def __init__(self, regularizer: Any, gate: int, gates: int):
        self.regularizer, self.gate, self.gates = regularizer, gate, gates

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        piece = weight.chunk(self.gates)[self.gate]
        return self.regularizer(piece.T if piece.dim() == 2 else piece)


class Recurrent(WeightArguments, Layer):
    """Base of the recurrent layers: the sequence logic, weights layout and both paths.

    Input ``(batch, timesteps, input_dim)``; output ``(batch, output_dim)``, or
    ``(batch, timesteps, output_dim)`` with ``return_sequences``.  Subclasses set
    their gate blocks and implement one step (``_step``) and, where torch has one,
    the fused kernel (``_kernel``).

    Abstract: use SimpleRNN, GRU or LSTM, which take the arguments below as
    keywords. A mask (from ``Masking``, or ``Embedding(mask_zero=True)``) makes
    the layer skip the padded steps.

    Args:
        weights: Initial values in Keras 1's order for the layer's
            ``consume_less`` (each subclass lists them), used instead of the
            initializers.
        return_sequences: Whether to return the output of every step rather
            than only the last (default False).
        go_backwards: Whether to read the input sequence from its last step to
            its first (default False).
        stateful: Whether the final states of each batch are the initial states
            of the same sample in the next batch (default False). It needs a
            fixed batch size (``batch_input_shape``); ``reset_states()`` zeroes
            them.
        unroll: Accepted and saved for Keras 1 programs; it changes nothing here,
            where the fused kernel or the step loop computes the same numbers.
        consume_less: ``'cpu'`` (the default), ``'mem'`` or ``'gpu'``: the layout
            of the Keras weights, one array per gate (cpu, mem) or the gates
            joined (gpu); with ``dropout_W``, gpu shares one input mask between
            the gates, which lets the fused kernel run.
        input_dim: The number of features per step; with ``input_length``, a
            first layer's short way of writing ``input_shape=(input_length,
            input_dim)``.
        input_length: The number of steps, when it is fixed (default None: any).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, input_dim)``.

    Output shape:
        ``(batch, output_dim)``, or ``(batch, timesteps, output_dim)`` with
        ``return_sequences``.
    """

    # torch's fused kernels run outside traced graphs, and kernels.py's are hand-written
    # autograd Functions: torch.func cannot differentiate either inside a graph
    func_differentiable = False

    #: Gate blocks in the order the Parameters stack them (torch's kernel order).
    gates: str = ""
    #: The same blocks in Keras 1's per-gate (cpu/mem) weight order.
    keras_gates: str = ""
    #: Names of the states; the first one is the output.
    state_names: tuple[str, ...] = ("h",)
    #: The gates' activation (GRU, LSTM); SimpleRNN has none.
    inner_activation: Callable[[Tensor], Tensor] | None = None
    #: Whether ``h·U`` has a bias of its own (``recurrent_bias``), as in torch's kernels.
    _two_biases: bool = False

    def __init__(
        self,
        weights: list[Any] | None = None,
        return_sequences: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        consume_less: str = "cpu",
        input_dim: int | None = None,
        input_length: int | None = None,
        **kwargs: Any,
    ):
        if input_dim is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length, input_dim)
        super().__init__(**kwargs)
        if consume_less not in _CONSUME_LESS:
            raise ValueError(
                f"{type(self).__name__} {self.name}: consume_less must be one of "
                f"{_CONSUME_LESS}, got {consume_less!r}"
            )
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.consume_less = consume_less
        self.input_dim = input_dim
        self.input_length = input_length
        self.input_spec = [InputSpec(ndim=3)]
        self.supports_masking = True
        self._initial_weights = weights
        self._use_fused = True
        self._use_kernel = True
        self._told_mask_fallback = False

    def _set_cell(
        self,
        *,
        output_dim: int,
        activation: Any,
        dropout_W: float,
        dropout_U: float,
        **weight_arguments: Any,
    ) -> None:
        """Store and check the arguments every cell shares (called by the subclasses);
        ``weight_arguments`` are its initializers and regularizers (``init``, ``inner_init``,
        ``W_regularizer`` ...)."""
        self.output_dim = check_int(self, "output_dim", output_dim)
        self.dropout_W = check_fraction(self, "dropout_W", dropout_W)
        self.dropout_U = check_fraction(self, "dropout_U", dropout_U)
        self.set_weight_arguments(**weight_arguments)
        self.activation = activations.get(activation)
        if self.dropout_W or self.dropout_U:
            self.uses_learning_phase = True

    # -- which path ---------------------------------------------------------------------

    def _kernel(self) -> tuple[Callable[..., Any], str] | None:
        """torch's fused kernel for this cell and its cuDNN mode name, or None."""
        return None

    def _kernel_blocker(self) -> str:
        """Why this cell's configuration has no fused kernel (when ``_kernel`` is None)."""
        return f"{type(self).__name__} has no fused kernel"

    def _fused_blocker(self) -> str | None:
        """Why this layer cannot take the fused path; None when it can."""
        if not self._use_fused:
            return "the fused path is switched off for this layer"
        if self._kernel() is None:
            return self._kernel_blocker()
        if self.dropout_U:
            return "dropout_U masks the recurrent input inside the step"
        if self.dropout_W and self.consume_less != "gpu" and len(self.gates) > 1:
            return (
                "dropout_W with consume_less='cpu'/'mem' draws one mask per gate "
                "(consume_less='gpu' shares one, which the kernel can take)"
            )
        return None

    @property
    def path(self) -> str:
        """'fused' when torch's fused kernel computes this layer, else 'loop'."""
        return "loop" if self._fused_blocker() else "fused"

    # -- weights ------------------------------------------------------------------------

    def _gate_weight(self, shape: tuple[int, ...], name: str, regularizer: Any) -> torch.Tensor:
        """A fused weight holding every gate's array. Keras 1 keeps one array per gate, each
        regularized on its own (so ``losses`` lists one penalty per gate); so does this."""
        weight = self.add_weight(shape, "zero", name=name)
        for gate in range(len(self.gates)) if regularizer is not None else ():
            self._weight_regularizers.append((name, _OneGate(regularizer, gate, len(self.gates))))
        return weight

    def build(self, input_shape: Shape) -> None:
        if not self.gates:
            raise NotImplementedError(
                f"{type(self).__name__} {self.name}: Recurrent is abstract; subclass it or use "
                "SimpleRNN, GRU or LSTM"
            )
        batch, _, input_dim = input_shape
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} {self.name}: the last input axis (input_dim) must be "
                f"known, got input shape {input_shape}"
            )
        if self.stateful:
            batch = batch or (self.batch_input_shape or (None,))[0]
            if not batch:
                raise ValueError(
                    f"{type(self).__name__} {self.name}: a stateful layer needs a fixed batch "
                    "size; give the first layer batch_input_shape=(batch, timesteps, "
                    f"input_dim), got input shape {input_shape}"
                )
        size = len(self.gates) * self.output_dim
        self.weight_ih = self._gate_weight((size, input_dim), "weight_ih", self.W_regularizer)
        self.weight_hh = self._gate_weight((size, self.output_dim), "weight_hh", self.U_regularizer)
        self.bias = self._gate_weight((size,), "bias", self.b_regularizer)
        if self._two_biases:
            self.recurrent_bias = self._gate_weight((size,), "recurrent_bias", self.b_regularizer)
        else:
            # torch's kernels add a second bias; Keras 1 has one, so the other stays zero.
            self.register_buffer(
                "zero_bias", torch.zeros_like(self.bias.detach()), persistent=False
            )
        self._initialize()
        if self.stateful:
            for state in self.state_names:
                self.register_buffer(
                    f"state_{state}",
                    self.bias.new_zeros(batch, self.output_dim).detach(),
                    persistent=False,
                )
        blocker = self._fused_blocker()
        logger.debug(
            "%s %s takes the %s path%s",
            type(self).__name__,
            self.name,
            self.path,
            f": {blocker}" if blocker else "",
        )

    def _initialize(self) -> None:
        """Initial values as Keras 1 draws them, but with ``inner_init`` for every U.

        cpu/mem layouts draw each gate's W (input_dim, n) and U (n, n) on its own, the
        gpu layout one W (input_dim, k·n) and one U (n, k·n); biases are zero, but
        LSTM's forget gate starts at ``forget_bias_init``.
        """
        draw = {"W": self.init, "U": self.inner_init}
        where = f"{type(self).__name__} {self.name}"
        with torch.no_grad():
            for suffix, view in self._keras_views():
                if suffix[0] in draw:
                    name = f"{self.name}_{suffix}"
                    view.copy_(initializers.initial_value(draw[suffix[0]], view.shape, name, where))
            n = self.output_dim
            one_bias = self.consume_less == "gpu" or len(self.gates) == 1  # Keras's "b"
            for index, gate in enumerate(self.gates):
                name = f"{self.name}_b" if one_bias else f"{self.name}_b_{gate}"
                value = initializers.initial_value(self._bias_init(gate), (n,), name, where)
                self.bias[index * n : (index + 1) * n].copy_(value)

    def _bias_init(self, gate: str) -> Callable[..., Tensor]:
        return initializers.get("zero")

    def _keras_views(self) -> list[tuple[str, Tensor]]:
        """(Keras name suffix, view of a Parameter) in Keras 1's weight order."""
        if self.consume_less == "gpu" or len(self.gates) == 1:
            return [("W", self.weight_ih.t()), ("U", self.weight_hh.t()), ("b", self.bias)]
        return self._per_gate_views()

    def _per_gate_views(self) -> list[tuple[str, Tensor]]:
        """``W_g, U_g, b_g`` (and ``bU_g``, the recurrent bias, when there is one) for
        each gate g in Keras's per-gate order, whatever order the Parameters stack."""
        n = self.output_dim
        views = []
        for gate in self.keras_gates:
            rows = slice(self.gates.index(gate) * n, (self.gates.index(gate) + 1) * n)
            views += [
                (f"W_{gate}", self.weight_ih[rows].t()),
                (f"U_{gate}", self.weight_hh[rows].t()),
                (f"b_{gate}", self.bias[rows]),
            ]
            if self._two_biases:
                views.append((f"bU_{gate}", self.recurrent_bias[rows]))
        return views

    def _kernel_params(self) -> list[Tensor]:
        """The four tensors torch's kernels take: w_ih, w_hh, b_ih, b_hh."""
        second = self.recurrent_bias if self._two_biases else self.zero_bias
        return [self.weight_ih, self.weight_hh, self.bias, second]

    @property
    def weights(self) -> list[Tensor]:  # type: ignore[override]
        """Keras 1's weight arrays (views of the fused Parameters); what files store.

        ``trainable_weights`` holds the Parameters themselves, which optimizers update.
        """
        if not self.built:
            return []
        views = []
        for suffix, view in self._keras_views():
            view._keras_name = f"{self.name}_{suffix}"
            views.append(view)
        return views

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        result = super()._apply(fn, recurse)
        self._flatten_for_cudnn()
        return result

    def _flatten_for_cudnn(self) -> None:
        """Put the kernel's weights in one cuDNN buffer (as ``nn.LSTM`` does after ``.to``).

        Otherwise cuDNN compacts them into a new buffer at every call and warns.
        """
        kernel = self._kernel() if self.built else None
        if kernel is None:
            return
        params = self._kernel_params()
        first = params[0]
        if not all(
            p.is_cuda and p.dtype == first.dtype and torch.backends.cudnn.is_acceptable(p)
            for p in params
        ) or len({p.data_ptr() for p in params}) != len(params):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(first), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                torch._cudnn_rnn_flatten_weight(
                    params,
                    4,
                    first.shape[1],
                    cudnn_rnn.get_cudnn_mode(kernel[1]),
                    self.output_dim,
                    0,
                    1,
                    True,
                    False,
                )

    # -- states -------------------------------------------------------------------------

    @property
    def states(self) -> list[Tensor | None]:
        """The kept states of a stateful layer (None for each state otherwise)."""
        if not (self.stateful and self.built):
            return [None] * len(self.state_names)
        return [getattr(self, f"state_{s}") for s in self.state_names]

    def reset_states(self) -> None:
        """Zero the kept states of a stateful layer."""
        if not self.stateful:
            raise RuntimeError(
                f"{type(self).__name__} {self.name}: reset_states() needs stateful=True"
            )
        for state, value in zip(self.state_names, self.states, strict=True):
            if value is not None:
                setattr(self, f"state_{state}", torch.zeros_like(value))

    def _initial_states(self, x: Tensor) -> list[Tensor]:
        if not self.stateful:
            return [x.new_zeros(x.shape[0], self.output_dim)] * len(self.state_names)
        kept = self.states
        if kept[0].shape[0] != x.shape[0]:
            raise ValueError(
                f"{type(self).__name__} {self.name}: this stateful layer keeps states for "
                f"batches of {kept[0].shape[0]}, got a batch of {x.shape[0]} (use that "
                "batch_size, with a sample count it divides)"
            )
        # States written under inference_mode (predict) cannot enter autograd as they are.
        reading = torch.is_inference_mode_enabled()
        return [s.clone() if s.is_inference() and not reading else s for s in kept]

    def _keep_states(self, finals: list[Tensor]) -> None:
        for state, value in zip(self.state_names, finals, strict=True):
            setattr(self, f"state_{state}", value.detach())

    # -- calling ------------------------------------------------------------------------

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.output_dim)
        return (input_shape[0], self.output_dim)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return mask if self.return_sequences else None

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return self.return_sequences and any(inputs_masked)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.dim() != 3 or x.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} {self.name}: expected input (batch, timesteps, "
                f"input_dim) with at least one timestep, got shape {tuple(x.shape)}"
            )
        if mask is not None:
            mask = self._check_mask(mask, x)
        if self.go_backwards:
            x = x.flip(1)
            mask = mask.flip(1) if mask is not None else None
        if mask is not None and bool(mask.all()):
            mask = None
        initial = self._initial_states(x)
        masks_W, masks_U = self._dropout_masks(x)
        window = None
        fused = self.path == "fused"
        if fused and mask is not None:
            window = self._window(mask)
            if window is None:
                fused = False
                if not self._told_mask_fallback:
                    self._told_mask_fallback = True
                    logger.debug(
                        "%s %s: a mask that does not keep one run of steps per sample "
                        "takes the loop path",
                        type(self).__name__,
                        self.name,
                    )
        if fused:
            if masks_W is not None:
                x = x * masks_W[0].unsqueeze(1)
            sequence, last, finals = self._run_fused(x, initial, window)
        else:
            sequence, last, finals = self._run_loop(x, initial, mask, masks_W, masks_U)
        if self.stateful:
            self._keep_states(finals)
        return sequence if self.return_sequences else last

    def _check_mask(self, mask: Any, x: Tensor) -> Tensor:
        mask = torch.as_tensor(mask, device=x.device)
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"{type(self).__name__} {self.name}: the mask must have shape (batch, "
                f"timesteps) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}"
            )
        return mask.bool()

    def _dropout_masks(self, x: Tensor) -> tuple[Masks, Masks]:
        """Keras 1's dropout masks for the input and the recurrent input, training only.

        One mask per sample for the whole sequence, scaled by 1/(1-p): one per gate
        block (k, b, dim), or one shared by all (1, b, dim) with consume_less='gpu'.
        """
        if not self.training or not (self.dropout_W or self.dropout_U):
            return None, None
        blocks = 1 if self.consume_less == "gpu" else len(self.gates)

        def draw(p: float, dim: int) -> Masks:
            if not p:
                return None
            return x.new_empty(blocks, x.shape[0], dim).bernoulli_(1.0 - p) / (1.0 - p)

        return draw(self.dropout_W, x.shape[2]), draw(self.dropout_U, self.output_dim)

    @staticmethod
    def _window(mask: Tensor) -> tuple[Tensor, Tensor] | None:
        """(first kept step, kept count) per sample if each keeps one run of steps, else None."""
        lengths = mask.sum(1)
        start = mask.to(torch.uint8).argmax(1)  # argmax returns the first maximum
        steps = torch.arange(mask.shape[1], device=mask.device)
        run = (steps >= start[:, None]) & (steps < (start + lengths)[:, None])
        if not bool(lengths.all()) or not torch.equal(run, mask):
            return None
        return start, lengths

    @torch.compiler.disable
    def _run_fused(
        self, x: Tensor, initial: list[Tensor], window: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor | None, Tensor, list[Tensor]]:
        """torch's fused kernel; a masked run of steps goes in as a packed sequence.

        Never traced by ``torch.compile`` (``jit_compile``): traced, torch's recurrent
        ops decompose into an unrolled loop of steps that takes minutes to compile and
        runs slower than the fused kernel, which the compiled graph calls instead.
        """
        kernel = self._kernel()[0]  # type: ignore[index]
        params = self._kernel_params()
        hx = [s.unsqueeze(0).contiguous() for s in initial]
        if window is None:
            hidden = tuple(hx) if len(hx) > 1 else hx[0]
            output, *finals = kernel(x, hidden, params, True, 1, 0.0, self.training, False, True)
            return output, finals[0][0], [f[0] for f in finals]
        start, lengths = window
        timesteps, n = x.shape[1], self.output_dim
        steps = torch.arange(timesteps, device=x.device)
        # Move each sample's kept run to the front, where a packed sequence wants it.
        shift = (steps[None] + start[:, None]).clamp(max=timesteps - 1)
        shifted = x.gather(1, shift[..., None].expand(-1, -1, x.shape[2]))
        packed = pack_padded_sequence(
            shifted, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        hx = [h.index_select(1, packed.sorted_indices) for h in hx]
        hidden = tuple(hx) if len(hx) > 1 else hx[0]
        data, *finals = kernel(
            packed.data, packed.batch_sizes, hidden, params, True, 1, 0.0, self.training, False
        )
        finals = [f[0].index_select(0, packed.unsorted_indices) for f in finals]
        if not self.return_sequences:
            return None, finals[0], finals
        padded, _ = pad_packed_sequence(
            packed._replace(data=data), batch_first=True, total_length=timesteps
        )
        # Keras's output at step t: the initial h before the run, the run's outputs,
        # then the run's last output, i.e. entry clamp(t - start + 1, 0, length) here.
        with_initial = torch.cat([initial[0].unsqueeze(1), padded], 1)
        index = (steps[None] - start[:, None] + 1).clamp(min=0).minimum(lengths[:, None])
        sequence = with_initial.gather(1, index[..., None].expand(-1, -1, n))
        return sequence, finals[0], finals

    def _run_loop(
        self,
        x: Tensor,
        initial: list[Tensor],
        mask: Tensor | None,
        masks_W: Masks,
        masks_U: Masks,
    ) -> tuple[Tensor | None, Tensor, list[Tensor]]:
        """The step loop: every step's input projection first, then the recurrence, as one
        whole-sequence kernel where there is one, else one step at a time under autograd."""
        kernel = self._loop_kernel()
        if kernel is not None:
            weights = [self.weight_ih, self.bias, self.weight_hh]
            if self._two_biases:
                weights.append(self.recurrent_bias)
            sequence, finals = kernels.run(
                kernel[0], x, weights, initial, masks_W, masks_U, mask, kernel[1]
            )
            return sequence.contiguous() if self.return_sequences else None, finals[0], finals
        projected = self._project(x, masks_W)
        keeps = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None
        states = list(initial)
        outputs = []
        for t, x_t in enumerate(projected.unbind(0)):
            output, new_states = self._step(x_t, states, masks_U)
            if keeps is not None:  # a masked step keeps the states, outputs the last h
                output = torch.where(keeps[t], output, states[0])
                new_states = [
                    torch.where(keeps[t], new, old)
                    for new, old in zip(new_states, states, strict=True)
                ]
            states = new_states
            if self.return_sequences:
                outputs.append(output)
        sequence = torch.stack(outputs, 1) if self.return_sequences else None
        return sequence, output, states

    def _project(self, x: Tensor, masks_W: Masks) -> Tensor:
        """``x·W + b`` for every step at once, time-major (timesteps, batch, k·n)."""
        steps = x.transpose(0, 1)
        if masks_W is None:
            return F.linear(steps, self.weight_ih, self.bias)
        if masks_W.shape[0] == 1:
            return F.linear(steps * masks_W[0], self.weight_ih, self.bias)
        k, n = masks_W.shape[0], self.output_dim
        blocks = self.weight_ih.unflatten(0, (k, n))  # (k, n, input_dim)
        per_gate = torch.einsum("tbi,kbi,kni->tbkn", steps, masks_W, blocks)
        return per_gate.flatten(2) + self.bias

    def _loop_kernel(self) -> tuple[str, list[str]] | None:
        """The kernel (``kernels.py``) that runs this layer's loop, and the activations it
        takes; None to run the steps under autograd."""
        return None

    def _kernel_for(self, cell: str, *functions: Any) -> tuple[str, list[str]] | None:
        """``cell``'s kernel, if the kernels know these activations.  Not while
        ``torch.compile`` traces the layer: it fuses the step loop it traces by itself."""
        if not self._use_kernel or torch.compiler.is_compiling():
            return None
        found = [kernels.activation(fn) for fn in functions]
        return None if None in found else (cell, found)  # type: ignore[return-value]

    def _step(
        self, x_t: Tensor, states: list[Tensor], masks_U: Masks
    ) -> tuple[Tensor, list[Tensor]]:
        """One step from the projected input ``x_t`` (batch, k·n): (output, new states)."""
        raise NotImplementedError

    # -- configuration ------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "consume_less": self.consume_less,
            "input_dim": self.input_dim,
            "input_length": self.input_length,
        }
        if hasattr(self, "output_dim"):
            config.update(
                output_dim=self.output_dim,
                **self.weight_config("init", "inner_init"),
                activation=function_name(self.activation),
                **self.weight_config("W_regularizer", "U_regularizer", "b_regularizer"),
                dropout_W=self.dropout_W,
                dropout_U=self.dropout_U,
            )
            if self.inner_activation is not None:
                config["inner_activation"] = function_name(self.inner_activation)
        return config


class SimpleRNN(Recurrent):
    """Fully connected recurrence: ``h_t = activation(x_t·W + b + h_{t-1}·U)``.

    Weights ``[W (input_dim, n), U (n, n), b (n)]`` in every ``consume_less``.
    tanh and relu run torch's fused kernel.

    Args:
        output_dim: The number of units: the size of the output and of the
            state.
        init: How the input weights W are initialized: a registered initializer
            name (default ``'glorot_uniform'``) or a function of a shape.
        inner_init: How the recurrent weights U are initialized (default
            ``'orthogonal'``).
        activation: The activation of the output (and of the candidate state),
            a registered name or a function (default ``'tanh'``).
        W_regularizer: A penalty on W added to the training loss, or None.
        U_regularizer: A penalty on U, or None.
        b_regularizer: A penalty on the biases, or None.
        dropout_W: The fraction of the input units dropped for the input
            connections while training, in [0, 1) (default 0.0).
        dropout_U: The fraction of the state's units dropped for the recurrent
            connections while training, in [0, 1) (default 0.0).
        **kwargs: The sequence arguments of ``Recurrent`` (``return_sequences``,
            ``go_backwards``, ``stateful``, ``unroll``, ``consume_less``,
            ``weights``, ``input_dim``, ``input_length``) and the common layer
            arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, input_dim)``.

    Output shape:
        ``(batch, output_dim)``, or ``(batch, timesteps, output_dim)`` with
        ``return_sequences``.
    """

    gates = "h"
    keras_gates = "h"

    def __init__(
        self,
        output_dim: int,
        init: Any = "glorot_uniform",
        inner_init: Any = "orthogonal",
        activation: Any = "tanh",
        W_regularizer: Any = None,
        U_regularizer: Any = None,
        b_regularizer: Any = None,
        dropout_W: float = 0.0,
        dropout_U: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._set_cell(
            output_dim=output_dim,
            init=init,
            inner_init=inner_init,
            activation=activation,
            W_regularizer=W_regularizer,
            U_regularizer=U_regularizer,
            b_regularizer=b_regularizer,
            dropout_W=dropout_W,
            dropout_U=dropout_U,
        )

    def _kernel(self) -> tuple[Callable[..., Any], str] | None:
        if self.activation in _TANH:
            return _VF.rnn_tanh, "RNN_TANH"
        if self.activation in _RELU:
            return _VF.rnn_relu, "RNN_RELU"
        return None

    def _kernel_blocker(self) -> str:
        return f"activation is {function_name(self.activation)}; the kernels compute tanh or relu"

    def _step(
        self, x_t: Tensor, states: list[Tensor], masks_U: Masks
    ) -> tuple[Tensor, list[Tensor]]:
        h = self.activation(_affine(x_t, states[0], self.weight_hh.t(), masks_U))
        return h, [h]

    def _loop_kernel(self) -> tuple[str, list[str]] | None:
        if type(self)._step is not SimpleRNN._step:
            return None
        return self._kernel_for("simple_rnn", self.activation)


class GRU(Recurrent):
    """Gated recurrent unit: Keras 1's by default, Keras 2/3's with ``reset_after=True``.

    With sig = inner_activation, act = activation, and the output ``h`` as the state:

    * ``reset_after=False`` (Keras 1's GRU, the reset gate applied before U_h):
      ``z = sig(x·W_z + b_z + h·U_z)``, ``r = sig(x·W_r + b_r + h·U_r)``,
      ``hh = act(x·W_h + b_h + (r*h)·U_h)``.
      Weights as Keras 1: ``[W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h]`` with
      ``W (input_dim, n), U (n, n), b (n,)`` (cpu/mem), or ``[W (input_dim, 3n),
      U (n, 3n), b (3n,)]`` with column blocks z, r, h (gpu).  Always the step loop:
      torch's fused GRU computes the other variant.
    * ``reset_after=True`` (an extension: Keras 2/3's variant, Keras 3's default and
      torch's ``nn.GRU``; the reset gate applied after U_h, which has a bias of its own):
      ``z = sig(x·W_z + b_z + h·U_z + bU_z)``, ``r = sig(x·W_r + b_r + h·U_r + bU_r)``,
      ``hh = act(x·W_h + b_h + r*(h·U_h + bU_h))``.
      Weights, in every ``consume_less``: ``[W_z, U_z, b_z, bU_z, W_r, U_r, b_r, bU_r,
      W_h, U_h, b_h, bU_h]`` with ``W (input_dim, n), U (n, n), b (n,), bU (n,)``
      (``bU`` is the recurrent bias, row 1 of Keras 2/3's ``bias (2, 3n)``).  With
      tanh and sigmoid it runs torch's fused GRU (cuDNN on a GPU).

    Both then take ``h_t = z*h + (1-z)*hh``: z weighs the previous state.

    Args:
        output_dim: The number of units: the size of the output and of the
            state.
        init: How the input weights W are initialized: a registered initializer
            name (default ``'glorot_uniform'``) or a function of a shape.
        inner_init: How the recurrent weights U are initialized (default
            ``'orthogonal'``).
        activation: The activation of the output (and of the candidate state),
            a registered name or a function (default ``'tanh'``).
        inner_activation: The activation of the gates (default ``'sigmoid'``;
            Keras 1's default was ``'hard_sigmoid'``, which runs the step loop).
        W_regularizer: A penalty on W added to the training loss, or None.
        U_regularizer: A penalty on U, or None.
        b_regularizer: A penalty on the biases, or None.
        dropout_W: The fraction of the input units dropped for the input
            connections while training, in [0, 1) (default 0.0).
        dropout_U: The fraction of the state's units dropped for the recurrent
            connections while training, in [0, 1) (default 0.0).
        reset_after: Which variant, as above (default False: Keras 1's).
        **kwargs: The sequence arguments of ``Recurrent`` (``return_sequences``,
            ``go_backwards``, ``stateful``, ``unroll``, ``consume_less``,
            ``weights``, ``input_dim``, ``input_length``) and the common layer
            arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, input_dim)``.

    Output shape:
        ``(batch, output_dim)``, or ``(batch, timesteps, output_dim)`` with
        ``return_sequences``.
    """

    gates = "zrh"
    keras_gates = "zrh"

    def __init__(
        self,
        output_dim: int,
        init: Any = "glorot_uniform",
        inner_init: Any = "orthogonal",
        activation: Any = "tanh",
        inner_activation: Any = "sigmoid",
        W_regularizer: Any = None,
        U_regularizer: Any = None,
        b_regularizer: Any = None,
        dropout_W: float = 0.0,
        dropout_U: float = 0.0,
        reset_after: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._set_cell(
            output_dim=output_dim,
            init=init,
            inner_init=inner_init,
            activation=activation,
            W_regularizer=W_regularizer,
            U_regularizer=U_regularizer,
            b_regularizer=b_regularizer,
            dropout_W=dropout_W,
            dropout_U=dropout_U,
        )
        self.inner_activation = activations.get(inner_activation)
        if not isinstance(reset_after, (bool, int)) or reset_after not in (0, 1):
            raise ValueError(
                f"GRU {self.name}: reset_after must be True or False, got {reset_after!r}"
            )
        self.reset_after = bool(reset_after)
        if self.reset_after:
            # torch's kernel order (r, z, n), so the fused GRU reads the Parameters as they
            # are; Keras's z, r, h order is only in the (per-gate) views.
            self.gates = "rzh"
            self._two_biases = True

    def _keras_views(self) -> list[tuple[str, Tensor]]:
        if self.reset_after:
            # One W (input_dim, 3n) in Keras's column order z, r, h cannot be a view of
            # Parameters stacked r, z, n, so the arrays are per gate in every layout.
            return self._per_gate_views()
        return super()._keras_views()

    def _kernel(self) -> tuple[Callable[..., Any], str] | None:
        if self.reset_after and self.activation in _TANH and self.inner_activation in _SIGMOID:
            return _VF.gru, "GRU"
        return None

    def _kernel_blocker(self) -> str:
        if not self.reset_after:
            return (
                "Keras 1's GRU resets h before the recurrent product; torch's fused GRU "
                "resets after it, a different function (GRU(reset_after=True) computes it)"
            )
        return (
            f"activation is {function_name(self.activation)} and inner_activation is "
            f"{function_name(self.inner_activation)}; the kernel computes tanh and sigmoid"
        )

    def _step(
        self, x_t: Tensor, states: list[Tensor], masks_U: Masks
    ) -> tuple[Tensor, list[Tensor]]:
        h, n = states[0], self.output_dim
        U = self.weight_hh.t()
        if self.reset_after:  # blocks r, z, h
            inner = _affine(self.recurrent_bias, h, U, masks_U)  # h·U + bU, every block
            r, z = self.inner_activation(x_t[:, : 2 * n] + inner[:, : 2 * n]).chunk(2, 1)
            hh = self.activation(torch.addcmul(x_t[:, 2 * n :], r, inner[:, 2 * n :]))
        else:  # blocks z, r, h
            zr = _affine(x_t[:, : 2 * n], h, U[:, : 2 * n], _gate_masks(masks_U, slice(0, 2)))
            z, r = self.inner_activation(zr).chunk(2, 1)
            hh = self.activation(
                _affine(x_t[:, 2 * n :], r * h, U[:, 2 * n :], _gate_masks(masks_U, slice(2, 3)))
            )
        h = z * h + (1 - z) * hh
        return h, [h]

    def _loop_kernel(self) -> tuple[str, list[str]] | None:
        if type(self)._step is not GRU._step:
            return None
        cell = "gru_reset_after" if self.reset_after else "gru"
        return self._kernel_for(cell, self.activation, self.inner_activation)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.reset_after:  # absent otherwise, so Keras 1 readers take the config as it was
            config["reset_after"] = True
        return config


class LSTM(Recurrent):
    """Long short-term memory, no peepholes; states ``[h, c]``.

    With sig = inner_activation:
    ``i = sig(x·W_i + b_i + h·U_i)``, ``f = sig(x·W_f + b_f + h·U_f)``,
    ``c_t = f*c + i*act(x·W_c + b_c + h·U_c)``, ``o = sig(x·W_o + b_o + h·U_o)``,
    ``h_t = o*act(c_t)``.  With the defaults (tanh, sigmoid) it runs torch's fused
    LSTM kernel; Keras 1's ``inner_activation='hard_sigmoid'`` runs the step loop.

    Weights ``[W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o]`` with
    ``consume_less`` 'cpu' or 'mem', ``[W (input_dim, 4n), U (n, 4n), b (4n,)]``
    with 'gpu'.

    Args:
        output_dim: The number of units: the size of the output and of the
            state.
        init: How the input weights W are initialized: a registered initializer
            name (default ``'glorot_uniform'``) or a function of a shape.
        inner_init: How the recurrent weights U are initialized (default
            ``'orthogonal'``).
        forget_bias_init: How the forget gate's bias is initialized (default
            ``'one'``, so that the cell remembers at first); the other biases start
            at zeros.
        activation: The activation of the output (and of the candidate state),
            a registered name or a function (default ``'tanh'``).
        inner_activation: The activation of the gates (default ``'sigmoid'``;
            Keras 1's default was ``'hard_sigmoid'``, which runs the step loop).
        W_regularizer: A penalty on W added to the training loss, or None.
        U_regularizer: A penalty on U, or None.
        b_regularizer: A penalty on the biases, or None.
        dropout_W: The fraction of the input units dropped for the input
            connections while training, in [0, 1) (default 0.0).
        dropout_U: The fraction of the state's units dropped for the recurrent
            connections while training, in [0, 1) (default 0.0).
        **kwargs: The sequence arguments of ``Recurrent`` (``return_sequences``,
            ``go_backwards``, ``stateful``, ``unroll``, ``consume_less``,
            ``weights``, ``input_dim``, ``input_length``) and the common layer
            arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, input_dim)``.

    Output shape:
        ``(batch, output_dim)``, or ``(batch, timesteps, output_dim)`` with
        ``return_sequences``.
    """

    gates = "ifco"
    keras_gates = "icfo"
    state_names = ("h", "c")

    def __init__(
        self,
        output_dim: int,
        init: Any = "glorot_uniform",
        inner_init: Any = "orthogonal",
        forget_bias_init: Any = "one",
        activation: Any = "tanh",
        inner_activation: Any = "sigmoid",
        W_regularizer: Any = None,
        U_regularizer: Any = None,
        b_regularizer: Any = None,
        dropout_W: float = 0.0,
        dropout_U: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._set_cell(
            output_dim=output_dim,
            init=init,
            inner_init=inner_init,
            forget_bias_init=forget_bias_init,
            activation=activation,
            W_regularizer=W_regularizer,
            U_regularizer=U_regularizer,
            b_regularizer=b_regularizer,
            dropout_W=dropout_W,
            dropout_U=dropout_U,
        )
        self.inner_activation = activations.get(inner_activation)

    def _bias_init(self, gate: str) -> Callable[..., Tensor]:
        return self.forget_bias_init if gate == "f" else super()._bias_init(gate)

    def _kernel(self) -> tuple[Callable[..., Any], str] | None:
        if self.activation in _TANH and self.inner_activation in _SIGMOID:
            return _VF.lstm, "LSTM"
        return None

    def _kernel_blocker(self) -> str:
        return (
            f"activation is {function_name(self.activation)} and inner_activation is "
            f"{function_name(self.inner_activation)}; the kernel computes tanh and sigmoid"
        )

    def _step(
        self, x_t: Tensor, states: list[Tensor], masks_U: Masks
    ) -> tuple[Tensor, list[Tensor]]:
        (h, c), n = states, self.output_dim
        z = _affine(x_t, h, self.weight_hh.t(), masks_U)  # blocks i, f, c, o
        # One inner_activation call for all blocks (c's is unused): fewer ops per step.
        i, f, _, o = self.inner_activation(z).chunk(4, 1)
        c = torch.addcmul(f * c, i, self.activation(z[:, 2 * n : 3 * n]))  # f*c + i*act(...)
        h = o * self.activation(c)
        return h, [h, c]

    def _loop_kernel(self) -> tuple[str, list[str]] | None:
        if type(self)._step is not LSTM._step:
            return None
        return self._kernel_for("lstm", self.activation, self.inner_activation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.weight_config("forget_bias_init")}
