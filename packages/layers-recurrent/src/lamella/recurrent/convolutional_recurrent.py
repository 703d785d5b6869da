"""Keras 1's convolutional recurrent layers: ``ConvLSTM2D`` on a ``ConvRecurrent2D`` base.

A ConvLSTM2D is an LSTM whose states are images and whose products are 2D convolutions.
Input ``(batch, time, channels, rows, cols)`` ('th') or ``(batch, time, rows, cols,
channels)`` ('tf'); the states ``h`` and ``c`` have ``nb_filter`` channels and the rows and
columns of the input convolution's output.  With ⋆ a cross-correlation (Keras's TensorFlow
backend; Theano-trained kernels must be flipped) and sig = ``inner_activation``::

    i = sig(x ⋆ W_i + b_i + h ⋆ U_i)        f = sig(x ⋆ W_f + b_f + h ⋆ U_f)
    c' = f * c + i * act(x ⋆ W_c + b_c + h ⋆ U_c)
    o = sig(x ⋆ W_o + b_o + h ⋆ U_o)        h' = o * act(c')

``x ⋆ W`` uses ``border_mode`` and ``subsample``; ``h ⋆ U`` is always 'same' with stride 1,
so the states keep their size.  'same' pads as TensorFlow does: an even kernel or a stride
gets the odd cell of padding at the end.

Storage.  The twelve weights are ``nn.Parameter``s in Keras 1's layout and order
(``W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o``; kernels 'th'
``(out, in, rows, cols)``, 'tf' ``(rows, cols, in, out)``), so weights, files and the
optimizer state kept per weight line up with Keras 1's without conversion.  A call joins
the four gates' kernels once into torch's ``(4·nb_filter, in, rows, cols)``: the input
convolution of every step is then one ``conv2d``, and each step one more, on ``h``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from lamella import activations, initializers
from lamella.engine.topology import InputSpec, Layer, Shape
from lamella.engine.weight_arguments import WeightArguments, function_name
from lamella.utils.arguments import (
    check_dim_ordering,
    check_fraction,
    check_int,
    check_one_of,
    invalid,
    is_int,
)
from lamella.utils.np_utils import conv_output_length

Tensor = torch.Tensor
Step = Callable[[Tensor, list[Tensor]], list[Tensor]]

_BORDER_MODES = ("valid", "same")
#: The order of the gate blocks in the joined kernels (Keras's own step order).
_BLOCKS = "ifco"
#: Keras 1's weight order.
_KERAS_GATES = "icfo"


def _same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis: enough for ``ceil(L / stride)`` outputs,
    the odd cell at the end."""
    total = max((-(-length // stride) - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


def _conv(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    border_mode: str,
    groups: int = 1,
) -> Tensor:
    """``x ⋆ kernel + bias`` of a channels-first batch with Keras's border modes.

    Symmetric 'same' padding is left to ``conv2d`` (no copy); asymmetric padding is applied
    first.
    """
    padding = (0, 0)
    if border_mode == "same":
        (top, bottom), (left, right) = (
            _same_padding(size, k, s)
            for size, k, s in zip(x.shape[2:], kernel.shape[2:], stride, strict=True)
        )
        if top == bottom and left == right:
            padding = (top, left)
        else:
            x = F.pad(x, [left, right, top, bottom])
    return F.conv2d(x, kernel, bias, stride, padding, 1, groups)


class ConvRecurrent2D(Layer):
    """Base of the convolutional recurrent layers: geometry, the sequence loop and states.

    Abstract, as in Keras 1, where ConvLSTM2D is its one layer.  Subclasses create their
    weights (``_build_cell``), convolve every step's input at once (``_project``) and give
    the step (``_step_function``).  The sequence logic is the recurrent layers': masked
    steps keep the states and output the previous ``h``; ``go_backwards`` reads the
    sequence from its end and returns it in that order; ``stateful`` keeps the final
    states for the next batch.

    Args:
        weights: Initial values in the subclass's Keras 1 order, used instead of
            the initializers.
        nb_row: The number of rows of each filter.
        nb_col: The number of columns of each filter.
        nb_filter: The number of filters: the channels of the output and states.
        return_sequences: Whether to return the output of every step rather
            than only the last (default False).
        go_backwards: Whether to read the sequence from its last step to its
            first (default False).
        stateful: Whether the final states of each batch are the initial states
            of the same sample in the next batch (default False); it needs a
            fixed batch size (``batch_input_shape``).
        dim_ordering: Where the channel axis of each frame is: ``'th'`` (first),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        border_mode: The border mode of the input convolution: ``'valid'`` (the
            default) or ``'same'``; the recurrent one is always 'same'.
        subsample: The strides of the input convolution along rows and columns
            (default ``(1, 1)``).
        **kwargs: The common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, channels, rows, cols)`` for 'th', ``(batch,
        timesteps, rows, cols, channels)`` for 'tf'.

    Output shape:
        One frame of ``nb_filter`` channels, ``(batch, nb_filter, new_rows,
        new_cols)`` for 'th' and ``(batch, new_rows, new_cols, nb_filter)`` for
        'tf', with the rows and columns of the input convolution's output; with
        ``return_sequences``, one per step: ``(batch, timesteps, ...)``.
    """

    #: Names of the states; the first one is the output.
    state_names: tuple[str, ...] = ("h",)

    def __init__(
        self,
        weights: list[Any] | None = None,
        nb_row: int | None = None,
        nb_col: int | None = None,
        nb_filter: int | None = None,
        return_sequences: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        dim_ordering: str | None = "default",
        border_mode: str = "valid",
        subsample: Any = (1, 1),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.nb_filter = check_int(self, "nb_filter", nb_filter)
        self.nb_row = check_int(self, "nb_row", nb_row)
        self.nb_col = check_int(self, "nb_col", nb_col)
        self.dim_ordering = check_dim_ordering(
            self, "default" if dim_ordering is None else dim_ordering
        )
        self.border_mode = check_one_of(self, "border_mode", border_mode, _BORDER_MODES)
        if is_int(subsample):
            subsample = (subsample, subsample)
        if not (
            isinstance(subsample, (tuple, list))
            and len(subsample) == 2
            and all(is_int(s) and s >= 1 for s in subsample)
        ):
            raise invalid(self, "subsample", "a tuple of 2 positive integers", subsample)
        self.subsample = (int(subsample[0]), int(subsample[1]))
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.input_spec = [InputSpec(ndim=5)]
        self.supports_masking = True
        self._initial_weights = weights

    # -- geometry -----------------------------------------------------------------------

    @property
    def channels_last(self) -> bool:
        return self.dim_ordering == "tf"

    def _frame(self, input_shape: Shape) -> tuple[Any, Any, Any]:
        """(channels, rows, cols) of one input frame, whatever the ordering."""
        frame = tuple(input_shape[2:])
        return (frame[2], frame[0], frame[1]) if self.channels_last else frame  # type: ignore[return-value]

    def _output_size(self, rows: int | None, cols: int | None) -> tuple[int | None, int | None]:
        """Rows and columns of the input convolution's output (and of the states)."""
        return (
            conv_output_length(rows, self.nb_row, self.border_mode, self.subsample[0]),
            conv_output_length(cols, self.nb_col, self.border_mode, self.subsample[1]),
        )

    def _image(self, rows: Any, cols: Any) -> tuple[Any, ...]:
        """An output frame's shape in this layer's ordering."""
        if self.channels_last:
            return (rows, cols, self.nb_filter)
        return (self.nb_filter, rows, cols)

    def get_output_shape_for(self, input_shape: Shape) -> Shape:
        _, rows, cols = self._frame(input_shape)
        image = self._image(*self._output_size(rows, cols))
        if self.return_sequences:
            return (input_shape[0], input_shape[1], *image)
        return (input_shape[0], *image)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return mask if self.return_sequences else None

    def output_masked(self, inputs_masked: list[bool]) -> bool:
        return self.return_sequences and any(inputs_masked)

    # -- weights and states -------------------------------------------------------------

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 5:
            raise ValueError(
                f"{type(self).__name__} {self.name}: expects 5D input (batch, time, "
                f"{'rows, cols, channels' if self.channels_last else 'channels, rows, cols'}),"
                f" got input shape {tuple(input_shape)}"
            )
        channels, rows, cols = self._frame(input_shape)
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} {self.name}: the channel axis of the input must be "
                f"known, got input shape {tuple(input_shape)}"
            )
        out_rows, out_cols = self._output_size(rows, cols)
        if (out_rows is not None and out_rows < 1) or (out_cols is not None and out_cols < 1):
            raise ValueError(
                f"{type(self).__name__} {self.name}: input frames of {rows}x{cols} are too "
                f"small for a {self.nb_row}x{self.nb_col} kernel with border_mode "
                f"{self.border_mode!r}"
            )
        self._build_cell(int(channels))
        if self.stateful:
            batch = input_shape[0] or (self.batch_input_shape or (None,))[0]
            if not batch or out_rows is None or out_cols is None:
                raise ValueError(
                    f"{type(self).__name__} {self.name}: a stateful layer needs its batch "
                    "size and frame size; give the first layer batch_input_shape=(batch, "
                    f"time, ...) with every axis but time, got input shape {tuple(input_shape)}"
                )
            like = self.trainable_weights[0]
            for state in self.state_names:
                zeros = like.new_zeros(batch, self.nb_filter, out_rows, out_cols).detach()
                self.register_buffer(f"state_{state}", zeros, persistent=False)

    def _build_cell(self, channels: int) -> None:
        """Create the weights for input frames of ``channels`` channels."""
        raise NotImplementedError(
            f"{type(self).__name__} {self.name}: ConvRecurrent2D is abstract; subclass it "
            "or use ConvLSTM2D"
        )

    @property
    def states(self) -> list[Tensor | None]:
        """The kept states of a stateful layer, in the layer's ordering (None otherwise)."""
        if not (self.stateful and self.built):
            return [None] * len(self.state_names)
        kept = [getattr(self, f"state_{s}") for s in self.state_names]
        return [s.movedim(1, -1) for s in kept] if self.channels_last else kept

    def reset_states(self) -> None:
        """Zero the kept states of a stateful layer."""
        if not self.stateful:
            raise RuntimeError(
                f"{type(self).__name__} {self.name}: reset_states() needs stateful=True"
            )
        if self.built:
            for state in self.state_names:
                name = f"state_{state}"
                setattr(self, name, torch.zeros_like(getattr(self, name)))

    def _initial_states(self, projected: Tensor) -> list[Tensor]:
        batch, _, _, rows, cols = projected.shape
        if not self.stateful:
            zeros = projected.new_zeros(batch, self.nb_filter, rows, cols)
            return [zeros] * len(self.state_names)
        kept = [getattr(self, f"state_{s}") for s in self.state_names]
        if tuple(kept[0].shape) != (batch, self.nb_filter, rows, cols):
            raise ValueError(
                f"{type(self).__name__} {self.name}: this stateful layer keeps states of "
                f"shape {tuple(kept[0].shape)} (batch, nb_filter, rows, cols), got a batch "
                f"needing {(batch, self.nb_filter, rows, cols)} (use the batch_size and "
                "frame size it was built for)"
            )
        # States written under inference_mode (predict) cannot enter autograd as they are.
        reading = torch.is_inference_mode_enabled()
        return [s.clone() if s.is_inference() and not reading else s for s in kept]

    # -- calling ------------------------------------------------------------------------

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.dim() != 5 or x.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} {self.name}: expected 5D input (batch, time, ...) "
                f"with at least one step, got shape {tuple(x.shape)}"
            )
        frames = x.movedim(-1, 2) if self.channels_last else x  # (batch, time, ch, rows, cols)
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device)
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(
                    f"{type(self).__name__} {self.name}: the mask must have shape (batch, "
                    f"time) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}"
                )
            mask = mask.bool()
        if self.go_backwards:
            frames = frames.flip(1)
            mask = mask.flip(1) if mask is not None else None
        if mask is not None and bool(mask.all()):
            mask = None
        masks_W, masks_U = self._dropout_masks(frames)
        projected = self._project(frames, masks_W)  # (batch, time, blocks, rows', cols')
        step = self._step_function(masks_U)
        states = self._initial_states(projected)
        keeps = mask[:, :, None, None, None].unbind(1) if mask is not None else None
        outputs = []
        # unbind, not indexing: the backward pass then stacks the steps' gradients once
        for t, x_t in enumerate(projected.unbind(1)):
            new_states = step(x_t, states)
            if keeps is not None:  # a masked step keeps the states, outputs the last h
                new_states = [
                    torch.where(keeps[t], new, old)
                    for new, old in zip(new_states, states, strict=True)
                ]
            states = new_states
            if self.return_sequences:
                outputs.append(states[0])
        if self.stateful:
            for state, value in zip(self.state_names, states, strict=True):
                setattr(self, f"state_{state}", value.detach())
        if self.return_sequences:
            sequence = torch.stack(outputs, 1)
            return sequence.movedim(2, -1) if self.channels_last else sequence
        return states[0].movedim(1, -1) if self.channels_last else states[0]

    def _dropout_masks(self, frames: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Dropout masks of the input and of ``h`` for this call; none by default."""
        return None, None

    def _project(self, frames: Tensor, masks_W: Tensor | None) -> Tensor:
        """Every step's input convolution: (batch, time, blocks, rows', cols')."""
        raise NotImplementedError

    def _step_function(self, masks_U: Tensor | None) -> Step:
        """The step for this call: (projected input of a step, states) -> new states."""
        raise NotImplementedError

    # -- configuration ------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "nb_filter": self.nb_filter,
            "nb_row": self.nb_row,
            "nb_col": self.nb_col,
            "dim_ordering": self.dim_ordering,
            "border_mode": self.border_mode,
            "subsample": self.subsample,
        }


class ConvLSTM2D(WeightArguments, ConvRecurrent2D):
    """Convolutional LSTM (no peepholes), Keras 1.2.2's: states ``[h, c]``.

    Weights ``[W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o]``: ``W`` 'th'
    ``(nb_filter, channels, nb_row, nb_col)`` / 'tf' ``(nb_row, nb_col, channels,
    nb_filter)``, ``U`` the same with ``nb_filter`` input channels, ``b (nb_filter,)``.
    ``dropout_W``/``dropout_U`` draw, while training, one mask per gate and sample over
    the whole input frame / state (every pixel and channel), the same at every step.

    Args:
        nb_filter: The number of filters: the channels of the output and states.
        nb_row: The number of rows of each filter.
        nb_col: The number of columns of each filter.
        init: How the input kernels W are initialized: a registered initializer
            name (default ``'glorot_uniform'``) or a function of a shape.
        inner_init: How the recurrent kernels U are initialized (default
            ``'orthogonal'``).
        forget_bias_init: How the forget gate's bias is initialized (default
            ``'one'``); the other biases start at zeros.
        activation: The activation of the output and of the candidate state
            (default ``'tanh'``).
        inner_activation: The activation of the gates (default
            ``'hard_sigmoid'``, Keras 1's).
        dim_ordering: Where the channel axis of each frame is: ``'th'`` (first),
            ``'tf'`` (last), or ``'default'``: the ``image_dim_ordering()``
            setting when the layer is made, ``'th'`` unless configured.
        border_mode: The border mode of the input convolution: ``'valid'`` (the
            default) or ``'same'``; the recurrent one is always 'same'.
        subsample: The strides of the input convolution along rows and columns
            (default ``(1, 1)``).
        W_regularizer: A penalty on the input kernels, or None.
        U_regularizer: A penalty on the recurrent kernels, or None.
        b_regularizer: A penalty on the biases, or None.
        dropout_W: The fraction of the input dropped, as above, in [0, 1)
            (default 0.0).
        dropout_U: The fraction of the state dropped, as above, in [0, 1)
            (default 0.0).
        **kwargs: The sequence arguments of ``ConvRecurrent2D``
            (``return_sequences``, ``go_backwards``, ``stateful``, ``weights``)
            and the common layer arguments (see ``Layer``).

    Input shape:
        ``(batch, timesteps, channels, rows, cols)`` for 'th', ``(batch,
        timesteps, rows, cols, channels)`` for 'tf'.

    Output shape:
        One frame of ``nb_filter`` channels, ``(batch, nb_filter, new_rows,
        new_cols)`` for 'th' and ``(batch, new_rows, new_cols, nb_filter)`` for
        'tf', with the rows and columns of the input convolution's output; with
        ``return_sequences``, one per step: ``(batch, timesteps, ...)``.
    """

    state_names = ("h", "c")
    kernel_names = ("nb_row", "nb_col")  # Keras 2's ConvLSTM2D(filters, kernel_size) fills both

    def __init__(
        self,
        nb_filter: int,
        nb_row: int,
        nb_col: int,
        init: Any = "glorot_uniform",
        inner_init: Any = "orthogonal",
        forget_bias_init: Any = "one",
        activation: Any = "tanh",
        inner_activation: Any = "hard_sigmoid",
        dim_ordering: str = "default",
        border_mode: str = "valid",
        subsample: Any = (1, 1),
        W_regularizer: Any = None,
        U_regularizer: Any = None,
        b_regularizer: Any = None,
        dropout_W: float = 0.0,
        dropout_U: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(
            nb_row=nb_row,
            nb_col=nb_col,
            nb_filter=nb_filter,
            dim_ordering=dim_ordering,
            border_mode=border_mode,
            subsample=subsample,
            **kwargs,
        )
        self.dropout_W = check_fraction(self, "dropout_W", dropout_W)
        self.dropout_U = check_fraction(self, "dropout_U", dropout_U)
        self.set_weight_arguments(
            init=init,
            inner_init=inner_init,
            forget_bias_init=forget_bias_init,
            W_regularizer=W_regularizer,
            U_regularizer=U_regularizer,
            b_regularizer=b_regularizer,
        )
        self.activation = activations.get(activation)
        self.inner_activation = activations.get(inner_activation)
        if self.dropout_W or self.dropout_U:
            self.uses_learning_phase = True

    def _kernel_shape(self, stack: int) -> tuple[int, int, int, int]:
        if self.channels_last:
            return (self.nb_row, self.nb_col, stack, self.nb_filter)
        return (self.nb_filter, stack, self.nb_row, self.nb_col)

    def _build_cell(self, channels: int) -> None:
        """Keras 1's twelve weights, in its order.

        Kernels draw their fans by the layer's ordering, as lamella's convolutions do
        (Keras 1.2.2 reads every ConvLSTM2D kernel as 'th').  A regularizer sees each
        gate's array; for l1/l2 the sum is the penalty of the four joined (Keras 1.2.2
        meant that, but its penalties never reached the loss).
        """
        draw_W = initializers.with_dim_ordering(self.init, self.dim_ordering)
        draw_U = initializers.with_dim_ordering(self.inner_init, self.dim_ordering)
        for gate in _KERAS_GATES:
            bias_init = self.forget_bias_init if gate == "f" else "zero"
            self.add_keras_weight(self._kernel_shape(channels), draw_W, f"W_{gate}", "W")
            self.add_keras_weight(self._kernel_shape(self.nb_filter), draw_U, f"U_{gate}", "U")
            self.add_keras_weight((self.nb_filter,), bias_init, f"b_{gate}", "b")

    def _joined(self, kind: str) -> Tensor:
        """The four gates' ``W`` or ``U`` as torch's (4·nb_filter, in, rows, cols), blocks
        i, f, c, o."""
        kernels = [getattr(self, f"{kind}_{gate}") for gate in _BLOCKS]
        if self.channels_last:
            return torch.cat(kernels, -1).permute(3, 2, 0, 1)
        return torch.cat(kernels, 0)

    def _dropout_masks(self, frames: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Keras 1's masks, training only: one per gate (blocks i, f, c, o) and sample,
        over an input frame (4, batch, channels, rows, cols) and over the state (4,
        batch, nb_filter, rows', cols'), scaled by 1/(1-p)."""
        if not self.training or not (self.dropout_W or self.dropout_U):
            return None, None
        batch, _, channels, rows, cols = frames.shape
        state = (self.nb_filter, *self._output_size(rows, cols))

        def draw(p: float, shape: tuple[int, ...]) -> Tensor | None:
            if not p:
                return None
            return frames.new_empty(len(_BLOCKS), batch, *shape).bernoulli_(1.0 - p) / (1.0 - p)

        return draw(self.dropout_W, (channels, rows, cols)), draw(self.dropout_U, state)

    def _project(self, frames: Tensor, masks_W: Tensor | None) -> Tensor:
        batch, steps = frames.shape[:2]
        bias = torch.cat([getattr(self, f"b_{gate}") for gate in _BLOCKS])
        if masks_W is None:
            x, groups = frames.flatten(0, 1), 1
        else:  # each gate convolves the input times its own mask: a grouped convolution
            masked = frames.unsqueeze(2) * masks_W.transpose(0, 1).unsqueeze(1)
            x, groups = masked.flatten(0, 1).flatten(1, 2), len(_BLOCKS)
        out = _conv(x, self._joined("W"), bias, self.subsample, self.border_mode, groups)
        return out.unflatten(0, (batch, steps))

    def _step_function(self, masks_U: Tensor | None) -> Step:
        U, n = self._joined("U"), self.nb_filter
        per_gate = masks_U.transpose(0, 1) if masks_U is not None else None
        groups = 1 if per_gate is None else len(_BLOCKS)

        def step(x_t: Tensor, states: list[Tensor]) -> list[Tensor]:
            h, c = states
            if per_gate is not None:
                h = (h.unsqueeze(1) * per_gate).flatten(1, 2)
            z = x_t + _conv(h, U, None, (1, 1), "same", groups)  # blocks i, f, c, o
            # One inner_activation call for all blocks (c's is unused): fewer ops per step.
            i, f, _, o = self.inner_activation(z).chunk(4, 1)
            c = torch.addcmul(f * c, i, self.activation(z[:, 2 * n : 3 * n]))
            return [o * self.activation(c), c]

        return step

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **self.weight_config("init", "inner_init", "forget_bias_init"),
            "activation": function_name(self.activation),
            "inner_activation": function_name(self.inner_activation),
            **self.weight_config("W_regularizer", "U_regularizer", "b_regularizer"),
            "dropout_W": self.dropout_W,
            "dropout_U": self.dropout_U,
        }
