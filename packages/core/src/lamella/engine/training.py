"""``Model``: a container that trains, with Keras 1's compile/fit/evaluate/predict.

The loop is written the way a careful PyTorch user writes one by hand: data is
moved to the device once per call, batches are index slices of device tensors,
shuffling is a ``torch.randperm``, and losses and metrics accumulate on the
device until something must print them.  Data over the memory budget, or read from
a file, is streamed batch by batch instead (``data.streams``, ``batches.StreamedBatches``).
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella.backend.config import device as default_device
from lamella.backend.config import torch_dtype
from lamella.backend.state import learning_phase_scope
from lamella.callbacks import Callback, EpochStats, History
from lamella.engine import data as data_utils
from lamella.engine import distributed, modes
from lamella.engine.acceleration import Acceleration
from lamella.engine.batches import (
    ArrayBatches,
    Batch,
    GeneratorBatches,
    HostOutputs,
    Prefetcher,
    Quota,
    StreamedBatches,
    unpack,
)
from lamella.engine.container import Container
from lamella.engine.loops import train
from lamella.engine.objectives import OutputObjective, build_objectives, compute, metrics_names
from lamella.engine.operation import (
    differentiated,
    evaluate,
    live_values,
    symbolic_tensors_used,
)
from lamella.engine.optimizer import Optimizer, TorchOptimizer
from lamella.engine.trainability import CLOCK, GradFlags
from lamella.engine.training_utils import (  # noqa: F401  (Keras 1's names in this module)
    GeneratorEnqueuer,
    batch_shuffle,
    check_array_lengths,
    check_loss_and_target_compatibility,
    collect_metrics,
    make_batches,
    slice_X,
    standardize_class_weights,
    standardize_input_data,
    standardize_sample_or_class_weights,
    standardize_sample_weights,
    standardize_weights,
    weighted_objective,
)
from lamella.keras2.construct import one_of
from lamella.utils.generic_utils import Progbar

Arrays = Any

#: The options of ``theano.function``, which Keras 1's compile passed on to it; Keras 1
#: on TensorFlow warned that it ignores them, and so does lamella.
THEANO_FUNCTION_OPTIONS = frozenset(
    {
        "mode",
        "updates",
        "givens",
        "no_default_updates",
        "accept_inplace",
        "name",
        "rebuild_strict",
        "allow_input_downcast",
        "profile",
        "on_unused_input",
    }
)


_EMPTY_GENERATOR = (
    "{call}: the generator (or DataLoader) gave no data: it is empty or exhausted (a Python "
    "generator runs once; Keras generators loop forever with `while True`)"
)


#: Keras 2's generator arguments and the Keras 1 ones they are.
_GENERATOR_RENAMES = {
    "max_queue_size": "max_q_size",
    "workers": "nb_worker",
    "use_multiprocessing": "pickle_safe",
}


def _keras2_generator_arguments(call: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop Keras 2's generator arguments from ``kwargs``, under lamella's names."""
    found = {}
    for keras2 in ("steps", "steps_per_epoch", "validation_steps", *_GENERATOR_RENAMES):
        if keras2 in kwargs:
            found[_GENERATOR_RENAMES.get(keras2, keras2)] = kwargs.pop(keras2)
    kwargs.pop("shuffle", None)  # Keras 2 shuffles Sequence objects; generators are not
    return found


def _batches(count: int, batch_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, batch_size):
        yield start, min(start + batch_size, count)


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Outputs as numpy; half-precision outputs of mixed precision come back as float32."""
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()


def _is_batch_stream(x: Any) -> bool:
    """A DataLoader or another iterable of batches, rather than arrays."""
    if isinstance(x, (np.ndarray, torch.Tensor, list, tuple, Mapping, str)):
        return False
    return isinstance(x, (Iterable, Iterator)) and not hasattr(x, "__array__")


def _require_samples(call: str, count: int) -> None:
    """An empty dataset would train or score nothing (a NaN loss) and look like success."""
    if not count:
        raise ValueError(f"{call}: got 0 samples (empty arrays): there is nothing to compute")


def _check_batch_size(batch_size: Any) -> int:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _check_stream(call: str, stream: Any) -> bool | None:
    if stream is not None and not isinstance(stream, bool):
        raise ValueError(
            f"{call}: stream must be True (read the data batch by batch), False (put it "
            f"whole on the device) or None (decide by the data_budget setting), got {stream!r}"
        )
    return stream


def _checked(
    checks: Sequence[Callable[[torch.Tensor, str], None]], name: str, batch: torch.Tensor
) -> torch.Tensor:
    for check in checks:
        check(batch, name)
    return batch


def _close(*sources: Any) -> None:
    for source in sources:
        if isinstance(source, StreamedBatches):
            source.close()


class Model(Container):
    """A graph of layers that can be compiled and trained (``Model(input=..., output=...)``)."""

    # -- compile ----------------------------------------------------------------------

    def compile(  # type: ignore[override]
        self,
        optimizer: Any,
        loss: Any,
        metrics: Sequence[Any] | Mapping[str, Any] | None = None,
        loss_weights: Sequence[float] | Mapping[str, float] | None = None,
        sample_weight_mode: str | Mapping[str, str] | None = None,
        device: str | torch.device | None = None,
        jit_compile: bool | Mapping[str, Any] = False,
        mixed_precision: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Choose the optimizer, loss(es) and metrics; move the model to its device.

        ``device`` overrides the device policy (CUDA when torch sees one, else CPU,
        or ``LAMELLA_DEVICE``); a model you already moved with ``.to()`` stays there.
        ``jit_compile=True`` (or a dict of ``torch.compile`` options) compiles the
        forward pass and the loss; ``mixed_precision='bf16'`` or ``'fp16'`` runs them
        under autocast (fp16 with loss scaling).  Both are off by default.

        As in Keras 1, the weights that training updates are the trainable ones now:
        change ``trainable`` flags, then compile again.  Theano's options (``mode=`` ...)
        are ignored with a warning.
        """
        from lamella import optimizers

        if "class_mode" in kwargs:
            kwargs.pop("class_mode")
            warnings.warn("compile: class_mode is deprecated in Keras 1 and ignored", stacklevel=2)
        theano_only = sorted(set(kwargs) & THEANO_FUNCTION_OPTIONS)
        if theano_only:
            warnings.warn(
                f"compile: ignoring {', '.join(theano_only)}: options of Theano's function "
                "compiler, which lamella does not use (Keras 1 on TensorFlow ignored them too)",
                stacklevel=2,
            )
        unknown = sorted(set(kwargs) - THEANO_FUNCTION_OPTIONS)
        if unknown:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(unknown)}")
        if not self.outputs:
            raise RuntimeError(f"Model {self.name} has no layers yet: add layers before compile")
        self.objectives: list[OutputObjective] = build_objectives(
            self.output_names,
            self.internal_output_shapes,
            loss,
            metrics,
            loss_weights,
            sample_weight_mode,
        )
        self.loss = loss
        self.metrics = metrics
        self.loss_weights = loss_weights
        self.sample_weight_mode = sample_weight_mode
        self.metrics_names = metrics_names(self.objectives)
        distributed.active()  # under torchrun with LAMELLA_DISTRIBUTED=1: the group, this GPU
        self._place(device)
        self._acceleration = Acceleration(self.device, jit_compile, mixed_precision)
        self._objective_step = self._acceleration.wrap(self._objective)
        self._train_objective = self._objective_step  # fit swaps in DDP's forward
        self._inference = self._acceleration.wrap(self._forward)
        self.optimizer: Optimizer = optimizers.get(optimizer)
        # Keras 1 fixes the trained weights here; later trainable changes need a new compile.
        trainable = sorted(self.trainable_weights, key=lambda w: getattr(w, "_keras_name", ""))
        self._grad_flags = GradFlags(self.parameters(), trainable)
        trained = {id(weight) for weight in trainable}
        if trainable or not isinstance(self.optimizer, TorchOptimizer):
            self.optimizer.bind(trainable)  # torch.optim refuses an empty parameter list
        if trainable and self._acceleration.jit_options is not None:
            self.optimizer.compile_step(self._acceleration.jit_options)
        if trainable:
            self.__dict__.pop("_train_step", None)
        else:  # nothing to train: each step computes the loss and metrics only, as in Keras 1
            self._train_step = self._forward_step
        self._constraints = [
            (weight, constraint)
            for layer in self._all_layers()
            for weight, constraint in layer.constraints.items()
            if id(weight) in trained
        ]
        self._has_penalties = any(layer._weight_regularizers for layer in self._all_layers())
        self._extra_losses = [
            loss
            for layer in [self, *self._all_layers()]
            for group in layer._extra("_added_losses").values()
            for loss in group
        ]
        read = [
            tensor
            for objective in self.objectives
            for fn in [objective.loss, *(spec.fn for spec in objective.metrics)]
            for tensor in symbolic_tensors_used(fn)
        ]
        self._live_losses = bool(self._extra_losses or read)
        if self._live_losses:  # a gradient penalty differentiates by tensors of the forward pass
            self._autograd = True
            self._grad_slots |= {
                self._slot_of[id(t)]
                for t in differentiated([*read, *self._extra_losses])
                if id(t) in self._slot_of
            }
        self.stop_training = False

    def _all_layers(self) -> list[Any]:
        found, pending = [], list(self.layers)
        while pending:
            layer = pending.pop(0)
            found.append(layer)
            pending.extend(getattr(layer, "_sublayers", lambda: [])())
        return found

    def _place(self, device: str | torch.device | None) -> None:
        current = self.device
        if device is not None:
            self.to(torch.device(device))
        elif current.type == "cpu" and default_device().type != "cpu":
            self.to(default_device())

    @property
    def device(self) -> torch.device:
        """The device of the model's weights (the configured device if it has none)."""
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return default_device()

    def _require_compiled(self, what: str) -> None:
        if not hasattr(self, "objectives"):
            raise RuntimeError(
                f"You must compile model {self.name} before {what}: call "
                "model.compile(optimizer, loss)"
            )

    # -- data ---------------------------------------------------------------------------

    def _inputs(self, x: Arrays, device: torch.device) -> list[torch.Tensor]:
        values = data_utils.as_list(x, self.input_names, "input")
        tensors = []
        for value, name, source in zip(values, self.input_names, self.inputs, strict=True):
            checks = self._input_checks(source)
            if not checks:
                tensors.append(data_utils.to_tensor(value, f"input {name}", source.dtype, device))
                continue
            # Checked where the data is (host data on the host), then moved.
            here = value.device if isinstance(value, torch.Tensor) else torch.device("cpu")
            tensor = data_utils.to_tensor(value, f"input {name}", source.dtype, here)
            for check in checks:
                check(tensor, f"input {name}")
            tensors.append(data_utils.to_tensor(tensor, f"input {name}", source.dtype, device))
        tensors = [data_utils.column(t) for t in tensors]
        data_utils.check_shapes(tensors, self.input_names, self.internal_input_shapes, "input")
        return tensors

    def _input_columns(self, x: Arrays) -> list[data_utils.HostColumn]:
        """The inputs left where they are, for streaming; each batch gets the whole-array
        checks of the fast path (an Embedding's index range) as it is read."""
        values = data_utils.as_list(x, self.input_names, "input")
        columns = []
        for value, name, source in zip(values, self.input_names, self.inputs, strict=True):
            checks = self._input_checks(source)
            prepare = functools.partial(_checked, checks, f"input {name}") if checks else None
            dtype = torch_dtype(source.dtype)
            columns.append(data_utils.HostColumn(value, f"input {name}", dtype, prepare))
        data_utils.check_shapes(columns, self.input_names, self.internal_input_shapes, "input")
        return columns

    def _target_columns(self, y: Arrays) -> list[data_utils.HostColumn]:
        values = data_utils.as_list(y, self.output_names, "target")
        columns = []
        for value, objective in zip(values, self.objectives, strict=True):
            name = f"target {objective.output_name}"
            if objective.sparse:
                check = functools.partial(
                    data_utils.check_class_indices, name=name, classes=objective.output_shape[-1]
                )
                column = data_utils.HostColumn(value, name, torch.float64, check, as_column=False)
            else:
                column = data_utils.HostColumn(value, name, torch_dtype(None))
            self._check_target(column, objective)
            columns.append(column)
        return columns

    def _weight_columns(
        self, sample_weight: Arrays, class_weight: Any, targets: list[data_utils.HostColumn]
    ) -> list[Any]:
        columns: list[Any] = []
        for value, per_class, target, objective in self._weight_sources(
            sample_weight, class_weight, targets
        ):
            if value is not None:
                column = data_utils.HostColumn(
                    value, "sample_weight", torch_dtype(None), as_column=False
                )
                columns.append(self._check_sample_weight(column, objective))
            elif per_class:
                derive = functools.partial(
                    self._class_weights, class_weight=per_class, objective=objective
                )
                columns.append(data_utils.DerivedColumn(target, derive))
            else:
                columns.append(None)
        return columns

    def _streams(self, call: str, stream: bool | None, groups: Sequence[Any]) -> bool:
        """Whether this call streams its data: ``stream`` if given, else whether the data
        of ``groups`` (``(x, y, sample_weight)`` tuples) passes the memory budget or is
        read from files.  Data parallel training always puts data whole on the device."""
        if distributed.active():
            if stream:
                raise ValueError(f"{call}: stream=True is not available in data parallel runs")
            return False
        if stream is not None:
            return stream
        entries: list[tuple[Any, torch.dtype]] = []
        for x, y, sample_weight, *_ in groups:
            values = data_utils.as_list(x, self.input_names, "input")
            entries += [(v, torch_dtype(s.dtype)) for v, s in zip(values, self.inputs, strict=True)]
            if y is not None:
                values = data_utils.as_list(y, self.output_names, "target")
                for value, objective in zip(values, self.objectives, strict=True):
                    entries.append((value, torch.long if objective.sparse else torch_dtype(None)))
            if sample_weight is not None:
                values = data_utils.as_list(
                    sample_weight, self.output_names, "sample_weight", allow_none=True
                )
                entries += [(v, torch_dtype(None)) for v in values]
        return data_utils.streams(entries, self.device)

    def _arrays(
        self,
        x: Arrays,
        y: Arrays,
        sample_weight: Arrays,
        class_weight: Any,
        streaming: bool,
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """Inputs, targets and weights: device tensors, or columns to stream."""
        if streaming:
            targets = self._target_columns(y)
            weights = self._weight_columns(sample_weight, class_weight, targets)
            return self._input_columns(x), targets, weights
        device = self.device
        inputs = self._inputs(x, device)
        targets = self._targets(y, device)
        return inputs, targets, self._weights(sample_weight, class_weight, targets, device)

    def _input_checks(self, source: Any) -> list[Callable[[torch.Tensor, str], None]]:
        """The whole-array checks of the layers of this model fed straight from ``source``
        (an Embedding's index range): run once per call, before any batch, because a
        bad index on CUDA is a device-side assert that names nothing."""
        return [
            check
            for node in source.layer.outbound_nodes
            if (check := getattr(node.outbound_layer, "check_input_data", None)) is not None
            and any(node is own for own in self._nodes)
        ]

    def _targets(self, y: Arrays, device: torch.device) -> list[torch.Tensor]:
        values = data_utils.as_list(y, self.output_names, "target")
        tensors = []
        for value, objective in zip(values, self.objectives, strict=True):
            name = f"target {objective.output_name}"
            if objective.sparse:
                tensor = data_utils.class_indices(value, name, objective.output_shape[-1], device)
            else:
                tensor = data_utils.column(data_utils.to_tensor(value, name, None, device))
            self._check_target(tensor, objective)
            tensors.append(tensor)
        return tensors

    @staticmethod
    def _check_target(target: Any, objective: OutputObjective) -> None:
        """``target`` (a tensor or a streamed column) must have the output's shape."""
        shape = objective.output_shape
        name = objective.output_name
        rank = len(target.shape)
        if objective.sparse:
            fits = rank in (len(shape) - 1, len(shape)) and (
                rank == len(shape) - 1 or target.shape[-1] == 1
            )
            expected = f"class indices of shape {(*shape[:-1], 1)}"
        else:
            fits = rank == len(shape) and all(
                e is None or e == g for e, g in zip(shape[1:], target.shape[1:], strict=True)
            )
            expected = f"shape {shape}"
        if not fits:
            loss_name = getattr(objective.loss, "__name__", "the loss")
            hint = ""
            if (
                loss_name == "categorical_crossentropy"
                and rank >= 1
                and (rank == 1 or target.shape[-1] == 1)
            ):
                hint = (
                    "; for integer class labels use loss='sparse_categorical_crossentropy' "
                    "or one-hot them with lamella.utils.np_utils.to_categorical"
                )
            raise ValueError(
                f"Error when checking model target: output {name} with loss {loss_name} "
                f"expects {expected}, but got an array with shape {tuple(target.shape)}{hint}"
            )

    def _weights(
        self,
        sample_weight: Arrays,
        class_weight: Any,
        targets: list[torch.Tensor],
        device: torch.device,
    ) -> list[torch.Tensor | None]:
        weights: list[torch.Tensor | None] = []
        for value, per_class, target, objective in self._weight_sources(
            sample_weight, class_weight, targets
        ):
            if value is not None:
                tensor = data_utils.to_tensor(value, "sample_weight", None, device)
                weights.append(self._check_sample_weight(tensor, objective))
            elif per_class:
                weights.append(self._class_weights(target, per_class, objective))
            else:
                weights.append(None)
        return weights

    def _weight_sources(
        self, sample_weight: Arrays, class_weight: Any, targets: list[Any]
    ) -> Iterator[tuple[Any, Any, Any, OutputObjective]]:
        """Per output: its sample weights as given, its class weights, target, objective."""
        given = data_utils.as_list(
            sample_weight, self.output_names, "sample_weight", allow_none=True
        )
        classes = (
            data_utils.as_list(class_weight, self.output_names, "class_weight", allow_none=True)
            if isinstance(class_weight, Mapping)
            and set(class_weight) <= set(self.output_names)
            and class_weight
            else [class_weight] * len(self.output_names)
        )
        return zip(given, classes, targets, self.objectives, strict=True)

    @staticmethod
    def _check_sample_weight(weights: Any, objective: OutputObjective) -> Any:
        rank = len(weights.shape)
        if objective.temporal and rank != 2:
            raise ValueError(
                "sample_weight_mode='temporal' needs 2D sample weights "
                f"(samples, timesteps), got shape {tuple(weights.shape)}"
            )
        if not objective.temporal and rank != 1:
            raise ValueError(
                "sample_weight must be 1D (one weight per sample) unless compile() "
                f"got sample_weight_mode='temporal'; got shape {tuple(weights.shape)}"
            )
        return weights

    @staticmethod
    def _class_weights(
        target: torch.Tensor, class_weight: Mapping[Any, float], objective: OutputObjective
    ) -> torch.Tensor:
        classes = objective.output_shape[-1] if objective.sparse else None
        name = f"target {objective.output_name}"
        return data_utils.class_weights_to_samples(
            target, class_weight, classes, name, objective.sparse
        )

    # -- the steps ----------------------------------------------------------------------

    def _forward(self, inputs: list[torch.Tensor]) -> tuple[list[Any], list[Any]]:
        if self._full_path:
            return self.run_masked(inputs)
        return self.run(inputs), [None] * len(self.outputs)

    def _penalties(self) -> list[torch.Tensor]:
        found = self.penalties() if self._has_penalties else []
        found.extend(self.activity_penalties())
        return found

    def _objective(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
        forward: Callable[..., Any] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pure part of a step, forward pass and loss: what jit_compile compiles."""
        if self._live_losses:
            return self._objective_live(inputs, targets, weights)
        outputs, masks = (forward or self._forward)(inputs)
        return compute(self.objectives, outputs, targets, weights, masks, self._penalties())

    def _objective_live(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective when a loss reads the model's own tensors (Keras 1's VAE) or
        ``add_loss`` added losses: they take their values from this forward pass."""
        slots: list[Any] = []
        outputs, masks = self.run_masked(inputs, keep=slots)
        known = {key: slots[index] for key, index in self._slot_of.items()}
        with live_values(known, f"model {self.name}"):
            extra = [evaluate(loss) for loss in self._extra_losses]
            return compute(
                self.objectives, outputs, targets, weights, masks, [*self._penalties(), *extra]
            )

    def _train_step(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
    ) -> torch.Tensor:
        if self._grad_flags.seen != CLOCK.ticks:  # another model or a trainable change
            self._grad_flags.restore()
        self.optimizer.zero_grad()
        with self._acceleration.autocast():
            total, values = self._train_objective(inputs, targets, weights)
        if not total.requires_grad:  # a loss no weight reaches: zero gradients, as in Keras 1
            return values
        self._acceleration.backward_and_step(total, self.optimizer)
        if self._constraints:
            with torch.no_grad():
                for weight, constraint in self._constraints:
                    weight.copy_(constraint(weight))
        return values

    def _forward_step(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
    ) -> torch.Tensor:
        """The training step of a model with no trainable weights: no update at all."""
        with torch.no_grad(), self._acceleration.autocast():
            return self._train_objective(inputs, targets, weights)[1]

    def _test_step(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
    ) -> torch.Tensor:
        with self._acceleration.autocast():
            return self._objective_step(inputs, targets, weights)[1]

    @staticmethod
    def _no_arguments_left(call: str, kwargs: dict[str, Any]) -> None:
        if kwargs:
            raise TypeError(f"{call}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")

    def _make_train_function(self) -> None:
        """Keras 1 built its training function at the first fit; lamella's step exists from
        ``compile`` on. Kept for Keras code that calls it to build the optimizer's state."""
        self._require_compiled("training")

    def _make_test_function(self) -> None:
        self._require_compiled("evaluating")

    def _make_predict_function(self) -> None:
        """Prediction needs nothing built (nor a compile)."""

    def _inference_mode(self) -> Any:
        """``torch.inference_mode`` for evaluating and predicting, unless the graph takes
        gradients itself (``K.gradients`` in its outputs), which needs autograd."""
        return torch.inference_mode(not self._autograd)

    @contextlib.contextmanager
    def _inference_call(self, call: str) -> Iterator[None]:
        """Layers in eval mode (shared with other threads' inference, see ``modes``),
        learning phase 0, no autograd: the setting of every evaluate and predict."""
        with modes.inference(self, call), self._inference_mode(), learning_phase_scope(0):
            yield

    def _predict_batch(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Outputs of one batch, through jit_compile and autocast once compiled."""
        acceleration = getattr(self, "_acceleration", None)
        if acceleration is None:
            return self._forward(inputs)[0]
        with acceleration.autocast():
            return self._inference(inputs)[0]

    # -- public training API ---------------------------------------------------------

    def fit(
        self,
        x: Arrays = None,
        y: Arrays = None,
        batch_size: int = 32,
        nb_epoch: int | None = None,
        verbose: int = 1,
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool | str = True,
        class_weight: Mapping[Any, Any] | None = None,
        sample_weight: Arrays = None,
        initial_epoch: int = 0,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> History:
        """Train for ``nb_epoch`` epochs (10 unless given; Keras 2's ``epochs=`` is accepted
        too); returns a History.

        Data within the ``data_budget`` setting is put whole on the device; larger data,
        and data read from files (memory maps, ``HDF5Matrix``), is streamed batch by
        batch.  ``stream=True`` or ``False`` decides for this call.  Streaming an
        ``HDF5Matrix``, ``shuffle='batch'`` reads contiguous rows, as in Keras 1.
        """
        epochs = kwargs.pop("epochs", None)
        nb_epoch = one_of("fit", ("nb_epoch", nb_epoch), ("epochs", epochs), 10)
        if kwargs.pop("show_accuracy", None) is not None:
            warnings.warn(
                "fit: show_accuracy is deprecated; use metrics=['accuracy']", stacklevel=2
            )
        if kwargs:
            raise TypeError(f"fit: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        self._require_compiled("training")
        if y is None and _is_batch_stream(x):
            return self.fit_generator(
                x,
                None,
                nb_epoch,
                verbose,
                callbacks,
                validation_data,
                class_weight=class_weight,
                initial_epoch=initial_epoch,
            )
        batch_size = _check_batch_size(batch_size)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"fit: shuffle must be True, False or 'batch', got {shuffle!r}")
        parallel = distributed.active()
        if parallel:
            verbose = distributed.verbosity(verbose)
        groups = [(x, y, sample_weight)]
        if validation_data is not None:
            if len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be (x, y) or (x, y, sample_weight), got a tuple of "
                    f"{len(validation_data)}"
                )
            groups.append((*validation_data, None)[:3])
        streaming = self._streams("fit", _check_stream("fit", stream), groups)
        inputs, targets, weights = self._arrays(x, y, sample_weight, class_weight, streaming)
        _require_samples(
            "fit",
            data_utils.check_lengths(
                {"input": inputs, "target": targets, "sample_weight": weights}
            ),
        )
        validation = None
        if validation_data is not None:
            val_x, val_y, val_weight = groups[1]
            validation = self._arrays(val_x, val_y, val_weight, None, streaming)
            data_utils.check_lengths(
                {"validation input": validation[0], "validation target": validation[1]}
            )
        elif validation_split:
            groups = [*inputs, *targets, *weights]
            head, tail = data_utils.split_tail(groups, validation_split)
            n_in, n_out = len(inputs), len(targets)
            inputs, targets, weights = head[:n_in], head[n_in : n_in + n_out], head[n_in + n_out :]
            validation = (tail[:n_in], tail[n_in : n_in + n_out], tail[n_in + n_out :])
        if not int(inputs[0].shape[0]):
            raise ValueError(
                f"fit: validation_split={validation_split} leaves no samples to train on"
            )
        source: Any
        val_source = None
        if streaming:
            source = StreamedBatches(inputs, targets, weights, batch_size, shuffle, self.device)
            if shuffle is True:
                self._warn_scattered_reads(source)
        else:
            batches = distributed.ShardedBatches if parallel else ArrayBatches
            source = batches(inputs, targets, weights, batch_size, shuffle)
        count = source.count
        validate = None
        if validation is not None:
            if verbose:
                print(
                    f"Train on {count} samples, validate on "
                    f"{int(validation[0][0].shape[0])} samples"
                )
            if streaming:
                val_source = StreamedBatches(*validation, batch_size, False, self.device)
                validate = functools.partial(self._score, val_source)
            else:
                validate = functools.partial(self._test_loop, *validation, batch_size=batch_size)
        # in parallel the progress bar counts this process's share of the samples
        params = {"batch_size": batch_size, "nb_sample": getattr(source, "per_rank", count)}
        self._grad_flags.restore()  # before data parallel wrapping reads them
        try:
            return train(
                self, source, int(nb_epoch), verbose, callbacks, validate, initial_epoch, params
            )
        finally:
            _close(source, val_source)

    @staticmethod
    def _warn_scattered_reads(source: StreamedBatches) -> None:
        """One warning when ``shuffle=True`` makes an HDF5 file (or a similar array-like)
        read every batch's rows at scattered places."""
        scattered = sorted(
            {
                type(column.value).__name__
                for column in source.columns
                if isinstance(column, data_utils.HostColumn) and column.scattered
            }
        )
        if scattered:
            warnings.warn(
                f"fit: shuffle=True reads each batch's rows from scattered places of "
                f"{', '.join(scattered)} data (in increasing order, as h5py requires): an "
                "HDF5 file then reads every row on its own, often many times slower than "
                "shuffle='batch', which reads each batch as one contiguous slice (Keras 1's "
                "advice for HDF5Matrix)",
                stacklevel=3,
            )

    # -- generators ---------------------------------------------------------------------

    def _convert_batch(self, item: Any, what: str) -> Batch:
        """One generator item as device tensors, checked like fit's arrays."""
        x, y, sample_weight = unpack(item, what)
        device = self.device
        inputs = self._inputs(x, device)
        targets = self._targets(y, device)
        weights = self._weights(sample_weight, None, targets, device)
        size = data_utils.check_lengths(
            {"input": inputs, "target": targets, "sample_weight": weights}
        )
        return size, inputs, targets, weights

    def fit_generator(
        self,
        generator: Iterable[Any],
        samples_per_epoch: int | None = None,
        nb_epoch: int | None = None,
        verbose: int = 1,
        callbacks: Sequence[Callback] | None = None,
        validation_data: Any = None,
        nb_val_samples: int | None = None,
        class_weight: Mapping[Any, float] | None = None,
        max_q_size: int = 10,
        nb_worker: int = 1,
        pickle_safe: bool = False,
        initial_epoch: int = 0,
        **kwargs: Any,
    ) -> History:
        """Train on batches from a generator yielding ``(x, y)`` or ``(x, y, sample_weight)``.

        Also takes a ``torch.utils.data.DataLoader`` or any iterable of such batches
        (one pass per epoch unless ``samples_per_epoch`` says otherwise).  Batches
        are prepared on ``nb_worker`` background threads (``pickle_safe`` is
        accepted for Keras code; lamella always uses threads: use a DataLoader with
        workers for process-based loading).

        Keras 2's spelling works too: ``steps_per_epoch`` (batches, not samples),
        ``epochs`` (then 1 by default, as in Keras 2), ``validation_steps``,
        ``max_queue_size``, ``workers``, ``use_multiprocessing``.  Positional arguments are
        Keras 1's: the second one is ``samples_per_epoch``.
        """
        spelled = _keras2_generator_arguments("fit_generator", kwargs)
        steps = spelled.pop("steps_per_epoch", None)
        validation_steps = spelled.pop("validation_steps", None)
        keras2 = steps is not None or "epochs" in kwargs
        nb_epoch = one_of(
            "fit_generator", ("nb_epoch", nb_epoch), ("epochs", kwargs.pop("epochs", None)), None
        )
        nb_epoch = (1 if keras2 else 10) if nb_epoch is None else nb_epoch
        max_q_size = spelled.get("max_q_size", max_q_size)
        nb_worker = spelled.get("nb_worker", nb_worker)
        if kwargs:
            raise TypeError(
                f"fit_generator: unexpected keyword argument(s) {', '.join(sorted(kwargs))}"
            )
        self._require_compiled("training")
        quota = self._quota(generator, samples_per_epoch, "samples_per_epoch", steps)

        def convert(item: Any) -> Batch:
            batch = self._convert_batch(item, "fit_generator")
            if class_weight:
                size, inputs, targets, weights = batch
                weights = [
                    w if w is not None else self._class_weights(t, class_weight, objective)
                    for w, t, objective in zip(weights, targets, self.objectives, strict=True)
                ]
                batch = (size, inputs, targets, weights)
            return batch

        source = GeneratorBatches(generator, convert, quota, max_q_size, nb_worker)
        validate = None
        if validation_data is not None:
            if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
                arrays = self._convert_batch(validation_data, "validation_data")[1:]
                validate = functools.partial(self._test_loop, *arrays, batch_size=32)
            else:
                self._quota(validation_data, nb_val_samples, "nb_val_samples", validation_steps)
                validate = functools.partial(
                    self.evaluate_generator,
                    validation_data,
                    nb_val_samples,
                    max_q_size,
                    nb_worker,
                    as_list=True,
                    steps=validation_steps,
                )
        self._grad_flags.restore()  # before data parallel wrapping reads them
        try:
            return train(
                self,
                source,
                int(nb_epoch),
                verbose,
                callbacks,
                validate,
                initial_epoch,
                {"nb_sample": quota.samples, "steps": quota.steps},
            )
        finally:
            source.close()

    @classmethod
    def _quota(cls, source: Any, samples: int | None, argument: str, steps: int | None) -> Quota:
        """An epoch's share of a generator: ``steps`` batches (Keras 2), else samples."""
        if steps is None:
            return Quota(samples=cls._samples_in(source, samples, argument))
        if samples is not None:
            raise TypeError(f"give {argument} (Keras 1) or steps (Keras 2), not both")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive number of batches, got {steps!r}")
        return Quota(steps=steps)

    @staticmethod
    def _samples_in(source: Any, given: int | None, argument: str) -> int:
        if given is not None:
            if given < 1:
                raise ValueError(f"{argument} must be a positive number of samples, got {given}")
            return int(given)
        dataset = getattr(source, "dataset", None)
        if dataset is not None and hasattr(dataset, "__len__"):
            if not len(dataset):
                raise ValueError(f"{argument}: the DataLoader's dataset is empty (0 samples)")
            return len(dataset)
        raise ValueError(f"{argument} is needed: the generator gives no way to count its samples")

    def evaluate_generator(
        self,
        generator: Iterable[Any],
        val_samples: int | None = None,
        max_q_size: int = 10,
        nb_worker: int = 1,
        pickle_safe: bool = False,
        as_list: bool = False,
        **kwargs: Any,
    ) -> float | list[float]:
        """The loss and metrics over ``val_samples`` samples drawn from a generator (or
        Keras 2's ``steps`` batches; ``max_queue_size``, ``workers`` are taken too)."""
        spelled = _keras2_generator_arguments("evaluate_generator", kwargs)
        self._no_arguments_left("evaluate_generator", kwargs)
        self._require_compiled("evaluating")
        quota = self._quota(generator, val_samples, "val_samples", spelled.get("steps"))
        max_q_size = spelled.get("max_q_size", max_q_size)
        nb_worker = spelled.get("nb_worker", nb_worker)
        stats = EpochStats(list(self.metrics_names))
        feeder = Prefetcher(
            generator,
            lambda item: self._convert_batch(item, "evaluate_generator"),
            max_q_size,
            nb_worker,
        )
        try:
            with self._inference_call("evaluate_generator"):
                steps = 0
                while not quota.reached(stats.seen, steps):
                    try:
                        size, inputs, targets, weights = feeder.get()
                    except StopIteration:
                        break
                    stats.add(self._test_step(inputs, targets, weights), size)
                    steps += 1
        finally:
            feeder.close()
        if distributed.active():
            distributed.reduce_stats(stats, self.device)
        if not stats.seen:
            raise ValueError(_EMPTY_GENERATOR.format(call="evaluate_generator"))
        results = list(stats.averages().values())
        return results if as_list or len(results) > 1 else results[0]

    def predict_generator(
        self,
        generator: Iterable[Any],
        val_samples: int | None = None,
        max_q_size: int = 10,
        nb_worker: int = 1,
        pickle_safe: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Predictions for ``val_samples`` samples of a generator yielding x (or (x, y)), or
        Keras 2's ``steps`` batches (``max_queue_size``, ``workers``, ``verbose`` taken too)."""
        spelled = _keras2_generator_arguments("predict_generator", kwargs)
        kwargs.pop("verbose", None)
        self._no_arguments_left("predict_generator", kwargs)
        quota = self._quota(generator, val_samples, "val_samples", spelled.get("steps"))
        max_q_size = spelled.get("max_q_size", max_q_size)
        nb_worker = spelled.get("nb_worker", nb_worker)

        def prepare(item: Any) -> list[torch.Tensor]:
            x = item[0] if isinstance(item, tuple) else item
            return self._inputs(x, self.device)

        feeder = Prefetcher(generator, prepare, max_q_size, nb_worker)
        chunks: list[list[torch.Tensor]] = []
        seen = 0
        try:
            with self._inference_call("predict_generator"):
                while not quota.reached(seen, len(chunks)):
                    try:
                        inputs = feeder.get()
                    except StopIteration:
                        break
                    chunks.append(self._predict_batch(inputs))
                    seen += int(inputs[0].shape[0])
        finally:
            feeder.close()
        if not seen:
            raise ValueError(_EMPTY_GENERATOR.format(call="predict_generator"))
        outputs = [_to_numpy(torch.cat(parts)) for parts in zip(*chunks, strict=True)]
        return outputs[0] if len(outputs) == 1 else outputs

    def _test_loop(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
        batch_size: int,
        verbose: int = 0,
    ) -> list[float]:
        """The loss and metrics over data on the device (each rank's share in parallel)."""
        if distributed.active():  # each rank evaluates its share; the sums are added up
            n_in, n_out = len(inputs), len(targets)
            columns = distributed.shard([*inputs, *targets, *weights])
            inputs, targets = columns[:n_in], columns[n_in : n_in + n_out]
            weights = columns[n_in + n_out :]
        return self._score(ArrayBatches(inputs, targets, weights, batch_size, False), verbose)

    def _score(self, source: Any, verbose: int = 0) -> list[float]:
        """The loss and metrics over one pass of ``source`` (in order)."""
        parallel = distributed.active()
        if parallel:
            verbose = distributed.verbosity(verbose)
        stats = EpochStats(list(self.metrics_names))
        progbar = Progbar(source.count) if verbose == 1 else None
        seen = 0
        with self._inference_call("evaluate"):
            for size, inputs, targets, weights in source.epoch():
                stats.add(self._test_step(inputs, targets, weights), size)
                seen += size
                if progbar is not None:
                    progbar.update(seen)
        if parallel:
            distributed.reduce_stats(stats, self.device)
        return list(stats.averages().values())

    def evaluate(
        self,
        x: Arrays,
        y: Arrays = None,
        batch_size: int = 32,
        verbose: int = 1,
        sample_weight: Arrays = None,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> float | list[float]:
        """The loss (and metrics) on the given data: a float, or a list in metrics_names order.

        Data over the ``data_budget`` setting, or read from files, is streamed batch by
        batch; ``stream=True`` or ``False`` decides for this call.
        """
        if kwargs.pop("show_accuracy", None) is not None:
            warnings.warn("evaluate: show_accuracy is deprecated", stacklevel=2)
        if kwargs:
            raise TypeError(f"evaluate: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        self._require_compiled("evaluating")
        if y is None and _is_batch_stream(x):
            return self.evaluate_generator(x)
        batch_size = _check_batch_size(batch_size)
        streaming = self._streams(
            "evaluate", _check_stream("evaluate", stream), [(x, y, sample_weight)]
        )
        inputs, targets, weights = self._arrays(x, y, sample_weight, None, streaming)
        _require_samples(
            "evaluate",
            data_utils.check_lengths(
                {"input": inputs, "target": targets, "sample_weight": weights}
            ),
        )
        if streaming:
            source = StreamedBatches(inputs, targets, weights, batch_size, False, self.device)
            try:
                results = self._score(source, verbose)
            finally:
                source.close()
        else:
            results = self._test_loop(inputs, targets, weights, batch_size, verbose)
        return results[0] if len(results) == 1 else results

    def predict(
        self, x: Arrays, batch_size: int = 32, verbose: int = 0, stream: bool | None = None
    ) -> Any:
        """Outputs for ``x`` as numpy arrays (a list of them for several outputs).

        Outputs are copied to the host batch by batch.  ``x`` over the ``data_budget``
        setting, or read from files, is streamed; ``stream=True`` or ``False`` decides.
        """
        if _is_batch_stream(x):
            return self.predict_generator(x)
        batch_size = _check_batch_size(batch_size)
        streaming = self._streams("predict", _check_stream("predict", stream), [(x, None, None)])
        if distributed.active():
            return self._predict_parallel(self._inputs(x, self.device), batch_size, verbose)
        if streaming:
            inputs: list[Any] = self._input_columns(x)
            source: Any = StreamedBatches(inputs, [], [], batch_size, False, self.device)
        else:
            inputs = self._inputs(x, self.device)
            source = ArrayBatches(inputs, [], [], batch_size, False)
        count = data_utils.check_lengths({"input": inputs})
        progbar = Progbar(count) if verbose == 1 else None
        outputs = HostOutputs(count)
        try:
            with self._inference_call("predict"):
                for size, batch, _, _ in source.epoch():
                    outputs.add(size, self._predict_batch(batch))
                    if progbar is not None:
                        progbar.update(outputs.filled + size)
        finally:
            _close(source)
        results = outputs.result()
        if not results:
            return [] if len(self.outputs) > 1 else np.zeros((0,))
        return results[0] if len(results) == 1 else results

    def _predict_parallel(self, inputs: list[torch.Tensor], batch_size: int, verbose: int) -> Any:
        """Each rank predicts its share on the device; every rank gets all of them back."""
        total = data_utils.check_lengths({"input": inputs})
        inputs = distributed.shard(inputs)
        count = int(inputs[0].shape[0])
        verbose = distributed.verbosity(verbose)
        progbar = Progbar(count) if verbose == 1 else None
        chunks: list[list[torch.Tensor]] = []
        with self._inference_call("predict"):
            for start, stop in _batches(count, batch_size):
                chunks.append(self._predict_batch([t[start:stop] for t in inputs]))
                if progbar is not None:
                    progbar.update(stop)
            if not chunks:  # an empty share still takes part in the gather
                chunks.append(self._predict_batch([t[:0] for t in inputs]))
        joined = [torch.cat(parts) for parts in zip(*chunks, strict=True)]
        outputs = [_to_numpy(distributed.gather(part, total)) for part in joined]
        return outputs[0] if len(outputs) == 1 else outputs

    def _batch_call(
        self,
        call: str,
        fn: Callable[..., torch.Tensor],
        x: Arrays,
        y: Arrays,
        sample_weight: Arrays,
        class_weight: Any,
    ) -> Any:
        device = self.device
        inputs = self._inputs(x, device)
        targets = self._targets(y, device)
        weights = self._weights(sample_weight, class_weight, targets, device)
        _require_samples(
            call,
            data_utils.check_lengths(
                {"input": inputs, "target": targets, "sample_weight": weights}
            ),
        )
        values = fn(inputs, targets, weights).cpu().numpy()
        return values[0] if len(values) == 1 else list(values)

    def train_on_batch(
        self, x: Arrays, y: Arrays, sample_weight: Arrays = None, class_weight: Any = None
    ) -> Any:
        """One gradient update on one batch; returns the loss (and metrics) before it."""
        self._require_compiled("training")
        with modes.training(self, "train_on_batch"):
            self.train()
            try:
                with learning_phase_scope(1):
                    return self._batch_call(
                        "train_on_batch", self._train_step, x, y, sample_weight, class_weight
                    )
            finally:
                self.eval()

    def test_on_batch(self, x: Arrays, y: Arrays, sample_weight: Arrays = None) -> Any:
        self._require_compiled("evaluating")
        with self._inference_call("test_on_batch"):
            return self._batch_call("test_on_batch", self._test_step, x, y, sample_weight, None)

    def predict_on_batch(self, x: Arrays) -> Any:
        return self.predict(
            x, batch_size=max(1, len(data_utils.as_list(x, self.input_names, "input")[0]))
        )

    # -- files ------------------------------------------------------------------------

    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Architecture, weights, training configuration and optimizer state in one file.

        The format comes from the file's ending (``.h5`` needs lamella-io-hdf5).
        """
        from lamella.engine.saving import save_model

        save_model(self, filepath, overwrite)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        from lamella.engine.saving import serializer_doing

        serializer_doing("save_weights", filepath).save_weights(self, filepath, overwrite)

    def load_weights(
        self, filepath: str, by_name: bool = False, theano_kernels: bool = False
    ) -> None:
        """Weights from a weights file (or a whole-model file), by order or by layer name;
        ``theano_kernels=True`` flips Theano-trained convolution kernels as they load."""
        from lamella.engine.saving import serializer_doing

        options = {"theano_kernels": True} if theano_kernels else {}  # for formats that take it
        serializer_doing("load_weights", filepath).load_weights(self, filepath, by_name, **options)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as Keras's JSON (no weights); ``json.dumps`` options pass through."""
        import json

        from lamella.engine.serialization import model_to_dict

        return json.dumps(model_to_dict(self), **kwargs)

    def to_yaml(self, **kwargs: Any) -> str:
        """The architecture as YAML (read back with ``yaml.safe_load`` only)."""
        import yaml

        from lamella.engine.serialization import model_to_dict

        return yaml.safe_dump(model_to_dict(self), **kwargs)

    def summary(self, line_length: int = 100, positions: Sequence[float] | None = None) -> None:
        from lamella.utils.layer_utils import print_summary

        print_summary(self, line_length=line_length, positions=positions)
