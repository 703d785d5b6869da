"""``Model``: a container that trains, with Keras 1's compile/fit/evaluate/predict.

The loop is written the way a careful PyTorch user writes one by hand: data is
moved to the device once per call, batches are index slices of device tensors,
shuffling is a ``torch.randperm``, and losses and metrics accumulate on the
device until something must print them.  Data over the memory budget, or read from
a file, is streamed batch by batch instead.

``Model`` owns compiling and the steps (forward, loss, update); each public call
reads its arguments, then has the data checked and converted (``data.DataPlan``),
its batches made by the call's strategy (``distributed.choose``: one process or
data parallel) and runs a loop of ``loops.py``.
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
from lamella.backend.state import learning_phase_scope
from lamella.callbacks import Callback, History
from lamella.engine import distributed, loops, modes
from lamella.engine.acceleration import Acceleration
from lamella.engine.batches import Batch, DrawnBatches, GeneratorBatches, JoinedOutputs, quota
from lamella.engine.container import Container
from lamella.engine.data import Data, DataPlan, check_lengths, require_samples, to_numpy
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
from lamella.engine.whole_step import WholeStep, apply_constraints
from lamella.keras2.construct import one_of
from lamella.utils.generic_utils import Progbar  # noqa: F401  (a Keras 1 name here too)

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


# -- reading the arguments ----------------------------------------------------------------


def _keras2_generator_arguments(call: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop Keras 2's generator arguments from ``kwargs``, under lamella's names."""
    found = {}
    for keras2 in ("steps", "steps_per_epoch", "validation_steps", *_GENERATOR_RENAMES):
        if keras2 in kwargs:
            found[_GENERATOR_RENAMES.get(keras2, keras2)] = kwargs.pop(keras2)
    kwargs.pop("shuffle", None)  # Keras 2 shuffles Sequence objects; generators are not
    return found


def _no_arguments_left(call: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"{call}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")


def _is_batch_stream(x: Any) -> bool:
    """A DataLoader or another iterable of batches, rather than arrays."""
    if isinstance(x, (np.ndarray, torch.Tensor, list, tuple, Mapping, str)):
        return False
    return isinstance(x, (Iterable, Iterator)) and not hasattr(x, "__array__")


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


def _check_shuffle(shuffle: Any) -> bool | str:
    if shuffle not in (True, False, "batch"):
        raise ValueError(f"fit: shuffle must be True, False or 'batch', got {shuffle!r}")
    return shuffle


def _validation_tuple(validation_data: tuple[Any, ...] | None) -> tuple[Any, Any, Any] | None:
    """``fit``'s ``validation_data`` as ``(x, y, sample_weight)``."""
    if validation_data is None:
        return None
    if len(validation_data) not in (2, 3):
        raise ValueError(
            "validation_data must be (x, y) or (x, y, sample_weight), got a tuple of "
            f"{len(validation_data)}"
        )
    x, y, sample_weight = (*validation_data, None)[:3]
    return x, y, sample_weight


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
        jit_compile = self._jit_worth_it(jit_compile)
        self._acceleration = Acceleration(self.device, jit_compile, mixed_precision)
        self._objective_step = self._acceleration.wrap(self._objective)
        self._train_objective = self._objective_step  # data parallel steps swap in DDP's
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
        self._whole_step = self._compiled_whole() if trainable else None
        if self._whole_step is not None:  # its first step and other batch sizes: eager
            self._train_objective = self._objective
        self.stop_training = False

    def _compiled_whole(self) -> WholeStep | None:
        """jit_compile's step as one graph (``whole_step.py``), where it applies: not
        under fp16's loss scaling, nor with losses that read the forward pass's own
        tensors (their values come through a context the tracer does not follow), nor
        with a layer that ``torch.func`` cannot differentiate (``func_differentiable``)."""
        acceleration = self._acceleration
        if acceleration.jit_options is None or acceleration.scaler is not None:
            return None
        if self._live_losses:
            return None
        if not all(layer.func_differentiable for layer in self._all_layers()):
            return None

        def per_part() -> None:
            self._train_objective = self._objective_step

        return WholeStep(
            self,
            self.optimizer,
            self._constraints,
            acceleration.autocast,
            acceleration.jit_options,
            self._step_eagerly,
            per_part,
        )

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

    # -- the steps ----------------------------------------------------------------------

    def _forward(self, inputs: list[torch.Tensor]) -> tuple[list[Any], list[Any]]:
        if self._full_path:
            return self.run_masked(inputs)
        return self.run(inputs), [None] * len(self.outputs)

    def _penalties(self) -> list[torch.Tensor]:
        found = self.penalties() if self._has_penalties else []
        found.extend(self.activity_penalties())
        return found

    def _jit_worth_it(self, jit_compile: bool | Mapping[str, Any]) -> bool | Mapping[str, Any]:
        """``jit_compile``, unless a layer is known to run slower compiled on this device
        (``Layer.eager_on``): then False, with a warning naming the layers."""
        if not jit_compile:
            return jit_compile
        slower = sorted(
            {
                type(layer).__name__
                for layer in self._all_layers()
                if self.device.type in layer.eager_on
            }
        )
        if not slower:
            return jit_compile
        warnings.warn(
            f"compile: jit_compile=True is ignored on the {self.device.type}: torch.compile "
            f"runs {', '.join(slower)} slower there than eager (see bench/RESULTS.md), so "
            f"model {self.name} trains eagerly",
            stacklevel=3,
        )
        return False

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
        if self._whole_step is not None:
            return self._whole_step(inputs, targets, weights)
        return self._step_eagerly(inputs, targets, weights)

    def _step_eagerly(
        self,
        inputs: list[torch.Tensor],
        targets: list[torch.Tensor],
        weights: list[torch.Tensor | None],
    ) -> torch.Tensor:
        """Forward pass and loss (compiled where jit_compile compiles them), then
        autograd's backward pass and the optimizer's step."""
        self.optimizer.zero_grad()
        with self._acceleration.autocast():
            total, values = self._train_objective(inputs, targets, weights)
        if not total.requires_grad:  # a loss no weight reaches: zero gradients, as in Keras 1
            return values
        self._acceleration.backward_and_step(total, self.optimizer)
        apply_constraints(self._constraints)
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

    @contextlib.contextmanager
    def _stepping_through(self, forward: Callable[..., Any]) -> Iterator[None]:
        """Training steps run their forward pass through ``forward`` in the block: data
        parallel's DDP module, which averages the gradients over the processes."""
        objective = functools.partial(self._objective, forward=forward)
        whole, self._whole_step = self._whole_step, None
        saved, self._train_objective = self._train_objective, self._acceleration.wrap(objective)
        try:
            yield
        finally:
            self._train_objective, self._whole_step = saved, whole

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
        nb_epoch = one_of("fit", ("nb_epoch", nb_epoch), ("epochs", kwargs.pop("epochs", None)), 10)
        if kwargs.pop("show_accuracy", None) is not None:
            warnings.warn(
                "fit: show_accuracy is deprecated; use metrics=['accuracy']", stacklevel=2
            )
        _no_arguments_left("fit", kwargs)
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
        shuffle = _check_shuffle(shuffle)
        strategy = distributed.choose()
        verbose = strategy.verbosity(verbose)
        validation_data = _validation_tuple(validation_data)
        stream = _check_stream("fit", stream)

        # The data: checked and converted once, or left where it is to be streamed.
        plan = DataPlan(self)
        streaming = plan.streaming(
            strategy.stream("fit", stream), (x, y, sample_weight), validation_data
        )
        data, validation = plan.fit_data(
            x, y, sample_weight, class_weight, validation_data, validation_split, streaming
        )

        # The batches this process runs.
        source = strategy.train_batches(data, batch_size, shuffle)
        if streaming and shuffle is True:
            data.warn_scattered_reads()
        val_source = validate = None
        if validation is not None:
            if verbose:
                print(
                    f"Train on {source.count} samples, validate on "
                    f"{int(validation.inputs[0].shape[0])} samples"
                )
            val_source = strategy.test_batches(validation, batch_size)
            validate = functools.partial(loops.evaluate, self, val_source, strategy)

        # Training; in parallel the progress bar counts this process's share of the samples.
        params = {"batch_size": batch_size, "nb_sample": getattr(source, "per_rank", source.count)}
        try:
            return loops.train(
                self,
                source,
                strategy,
                int(nb_epoch),
                verbose,
                callbacks,
                validate,
                initial_epoch,
                params,
            )
        finally:
            source.close()
            if val_source is not None:
                val_source.close()

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
        _no_arguments_left("fit_generator", kwargs)
        self._require_compiled("training")
        epoch = quota(generator, samples_per_epoch, "samples_per_epoch", steps)
        strategy = distributed.choose()
        plan = DataPlan(self)

        convert = functools.partial(plan.batch, what="fit_generator", class_weight=class_weight)
        source = GeneratorBatches(generator, convert, epoch, max_q_size, nb_worker)
        validate = None
        if validation_data is not None:
            if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
                _, *arrays = plan.batch(validation_data, "validation_data")
                held_out = strategy.test_batches(Data(*arrays, plan.device), 32)
                validate = functools.partial(loops.evaluate, self, held_out, strategy)
            else:
                quota(validation_data, nb_val_samples, "nb_val_samples", validation_steps)
                validate = functools.partial(
                    self.evaluate_generator,
                    validation_data,
                    nb_val_samples,
                    max_q_size,
                    nb_worker,
                    as_list=True,
                    steps=validation_steps,
                )
        try:
            return loops.train(
                self,
                source,
                strategy,
                int(nb_epoch),
                verbose,
                callbacks,
                validate,
                initial_epoch,
                {"nb_sample": epoch.samples, "steps": epoch.steps},
            )
        finally:
            source.close()

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
        _no_arguments_left("evaluate", kwargs)
        self._require_compiled("evaluating")
        if y is None and _is_batch_stream(x):
            return self.evaluate_generator(x)
        batch_size = _check_batch_size(batch_size)
        stream = _check_stream("evaluate", stream)
        strategy = distributed.choose()
        plan = DataPlan(self)
        streaming = plan.streaming(strategy.stream("evaluate", stream), (x, y, sample_weight))
        data = plan.data(x, y, sample_weight, None, streaming)
        require_samples("evaluate", data.samples())
        source = strategy.test_batches(data, batch_size)
        try:
            results = loops.evaluate(self, source, strategy, verbose)
        finally:
            source.close()
        return results[0] if len(results) == 1 else results

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
        _no_arguments_left("evaluate_generator", kwargs)
        self._require_compiled("evaluating")
        drawn = quota(generator, val_samples, "val_samples", spelled.get("steps"))
        max_q_size = spelled.get("max_q_size", max_q_size)
        nb_worker = spelled.get("nb_worker", nb_worker)
        strategy = distributed.choose()
        convert = functools.partial(DataPlan(self).batch, what="evaluate_generator")
        source = DrawnBatches(generator, convert, drawn, max_q_size, nb_worker)
        try:
            stats = loops.score(self, source, "evaluate_generator")
        finally:
            source.close()
        strategy.reduce(stats, self.device)
        if not stats.seen:
            raise ValueError(_EMPTY_GENERATOR.format(call="evaluate_generator"))
        results = list(stats.averages().values())
        return results if as_list or len(results) > 1 else results[0]

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
        stream = _check_stream("predict", stream)
        strategy = distributed.choose()
        plan = DataPlan(self)
        streaming = plan.streaming(strategy.stream("predict", stream), (x, None, None))
        data = plan.input_data(x, streaming)
        samples = data.samples()
        one_process = isinstance(strategy, distributed.SingleProcess)
        if one_process and not streaming and 0 < samples <= batch_size and verbose != 1:
            return self._one_batch(data.inputs, "predict")
        outputs = strategy.outputs(samples)
        source = strategy.predict_batches(data, batch_size)
        try:
            loops.predict(self, source, outputs, "predict", strategy.verbosity(verbose))
        finally:
            source.close()
        results = outputs.result()
        if not results:
            return [] if len(self.outputs) > 1 else np.zeros((0,))
        return results[0] if len(results) == 1 else results

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
        _no_arguments_left("predict_generator", kwargs)
        drawn = quota(generator, val_samples, "val_samples", spelled.get("steps"))
        max_q_size = spelled.get("max_q_size", max_q_size)
        nb_worker = spelled.get("nb_worker", nb_worker)
        plan = DataPlan(self)

        def prepare(item: Any) -> Batch:
            inputs = plan.inputs(item[0] if isinstance(item, tuple) else item)
            return int(inputs[0].shape[0]), inputs, [], []

        source = DrawnBatches(generator, prepare, drawn, max_q_size, nb_worker)
        outputs = JoinedOutputs()
        try:
            seen = loops.predict(self, source, outputs, "predict_generator")
        finally:
            source.close()
        if not seen:
            raise ValueError(_EMPTY_GENERATOR.format(call="predict_generator"))
        results = outputs.result()
        return results[0] if len(results) == 1 else results

    def _batch_call(
        self,
        call: str,
        fn: Callable[..., torch.Tensor],
        x: Arrays,
        y: Arrays,
        sample_weight: Arrays,
        class_weight: Any,
    ) -> Any:
        data = DataPlan(self).data(x, y, sample_weight, class_weight, streaming=False)
        require_samples(call, data.samples())
        values = fn(*data.columns).cpu().numpy()
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
        """Outputs for ``x`` as one batch: a single forward pass with none of ``predict``'s
        batching, streaming or gathering."""
        inputs = DataPlan(self).inputs(x)
        if not check_lengths({"input": inputs}):
            return self.predict(x)  # no samples: predict's empty result
        return self._one_batch(inputs, "predict_on_batch")

    def _one_batch(self, inputs: list[torch.Tensor], call: str) -> Any:
        """The outputs of one forward pass as numpy, for ``predict_on_batch`` and a
        ``predict`` whose data is one batch: calling either per sample (an agent choosing
        its next action) then costs little more than the layers' own work."""
        with self._inference_call(call):
            outputs = self._predict_batch(inputs)
        # Copied on the host, as predict's batches are: an output may be a view of the
        # caller's array (an identity model) or of a weight, which the result must not be.
        arrays = [
            to_numpy(out).copy() if out.device.type == "cpu" else to_numpy(out) for out in outputs
        ]
        return arrays[0] if len(arrays) == 1 else arrays

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
