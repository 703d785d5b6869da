"""Keras 1's test helpers: ``layer_test``, ``keras_test`` and ``get_test_data``.

Tests of custom layers written for Keras 1 call these; they check a layer the way
Keras 1's own tests did.  ``lamella.testing.check_layer`` checks more (gradients,
numbers against a reference, CUDA).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella import backend as K
from lamella.engine.serialization import class_name, loading
from lamella.engine.topology import Input
from lamella.engine.training import Model
from lamella.models import Sequential, model_from_json
from lamella.plugins import available

__all__ = ["Input", "Model", "Sequential", "get_test_data", "keras_test", "layer_test"]


def get_test_data(
    nb_train: int = 1000,
    nb_test: int = 500,
    input_shape: Sequence[int] = (10,),
    output_shape: Sequence[int] = (2,),
    classification: bool = True,
    nb_class: int = 2,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(X_train, y_train), (X_test, y_test)``: noisy samples that a model can learn.

    With ``classification``, ``y`` holds class indices in ``[0, nb_class)`` (and
    ``output_shape`` is ignored) and each sample of ``X`` is drawn from a normal
    of mean ``y`` and standard deviation 0.7.  Otherwise each sample gets a
    random centre in ``[0, 1)``, and both ``X`` and ``y`` (of ``output_shape``)
    are drawn around it with deviation 0.7.  Draws from numpy's global generator.
    """
    input_shape, output_shape = tuple(input_shape), tuple(output_shape)
    total = nb_train + nb_test
    if classification:
        y = np.random.randint(0, nb_class, size=(total,))
        X = np.zeros((total, *input_shape))
        for i in range(total):
            X[i] = np.random.normal(loc=y[i], scale=0.7, size=input_shape)
    else:
        centres = np.random.random((total,))
        X = np.zeros((total, *input_shape))
        y = np.zeros((total, *output_shape))
        for i in range(total):
            X[i] = np.random.normal(loc=centres[i], scale=0.7, size=input_shape)
            y[i] = np.random.normal(loc=centres[i], scale=0.7, size=output_shape)
    return (X[:nb_train], y[:nb_train]), (X[nb_train:], y[nb_train:])


def _check_shape(where: str, expected: Sequence[int | None], actual: Sequence[int]) -> None:
    """The output shape against the declared one; ``None`` in ``expected`` matches any size."""
    fits = len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected, actual, strict=True)
    )
    if not fits:
        raise AssertionError(
            f"layer_test: {where} gave an output of shape {tuple(actual)}, but the layer "
            f"declares {tuple(expected)}"
        )


def _check_values(where: str, actual: np.ndarray, expected: np.ndarray | None) -> None:
    if expected is not None:
        np.testing.assert_allclose(
            actual, expected, rtol=1e-3, err_msg=f"layer_test: {where} vs expected_output"
        )


def _optimizer() -> Any:
    """Keras 1's ``'rmsprop'`` where lamella-optimizers is installed, else torch's RMSprop."""
    return "rmsprop" if available("rmsprop", "optimizers") else torch.optim.RMSprop


def _train_one_batch(where: str, model: Any, input_data: np.ndarray, output: np.ndarray) -> None:
    """One training step on random targets: the layer must train, and its loss be finite."""
    if not model.trainable_weights or not np.issubdtype(output.dtype, np.floating):
        return
    targets = np.random.random(output.shape).astype(output.dtype)
    loss = model.train_on_batch(input_data, targets)
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    if not np.isfinite(float(loss)):
        raise AssertionError(f"layer_test: {where} trained to a loss of {loss}")


def layer_test(
    layer_cls: type,
    kwargs: Mapping[str, Any] | None = None,
    input_shape: Sequence[int | None] | None = None,
    input_dtype: str | None = None,
    input_data: np.ndarray | None = None,
    expected_output: np.ndarray | None = None,
    expected_output_dtype: str | None = None,
    fixed_batch_size: bool = False,
) -> np.ndarray:
    """Check ``layer_cls(**kwargs)`` on one input, as Keras 1's tests did; return its output.

    Without ``input_data``, the input is ``10 * uniform`` data of ``input_shape``
    (``None`` sizes become 1 to 3) in ``input_dtype`` (default floatx).  Checks:
    the weights survive ``get_weights``/``set_weights``; the output's ``K.dtype`` on
    a symbolic ``Input``, and the dtype of the computed output, are
    ``expected_output_dtype`` (default: the input's);
    in a functional model and then as the first layer of a Sequential, the output
    has the shape ``get_output_shape_for`` declares (``None`` matches any size)
    and equals ``expected_output`` (rtol 1e-3); each model rebuilt from its config
    (and the Sequential from its JSON) with the same weights computes the same
    output; and the Sequential trains one batch.
    """
    kwargs = dict(kwargs or {})
    if input_data is None:
        if not input_shape:
            raise ValueError("layer_test: pass input_shape or input_data")
        input_dtype = input_dtype or K.floatx()
        data_shape = [np.random.randint(1, 4) if d is None else d for d in input_shape]
        input_data = (10 * np.random.random(data_shape)).astype(input_dtype)
    else:
        input_data = np.asarray(input_data)
        input_dtype = input_dtype or str(input_data.dtype)
        if input_shape is None:
            input_shape = input_data.shape
    input_shape = tuple(input_shape)
    expected_output_dtype = expected_output_dtype or input_dtype
    name = layer_cls.__name__

    layer = layer_cls(**kwargs)
    layer.set_weights(layer.get_weights())

    if fixed_batch_size:
        x = Input(batch_shape=input_shape, dtype=input_dtype)
    else:
        x = Input(shape=input_shape[1:], dtype=input_dtype)
    y = layer(x)
    if K.dtype(y) != expected_output_dtype:
        raise AssertionError(
            f"layer_test: {name} gives {K.dtype(y)} outputs, expected {expected_output_dtype}"
        )

    model = Model(input=x, output=y)
    model.compile(_optimizer(), "mse")
    # The layer under test is found by name even when no plugin registers it.
    known = {class_name(layer): layer_cls}
    expected_shape = layer.get_output_shape_for(input_shape)
    output = model.predict(input_data)
    if str(output.dtype) != expected_output_dtype:
        raise AssertionError(
            f"layer_test: {name} computes {output.dtype} outputs, expected {expected_output_dtype}"
        )
    _check_shape(f"{name} in a functional model", expected_shape, output.shape)
    _check_values(f"{name} in a functional model", output, expected_output)

    # The configs below come from this process, not from a file: code in them (a Lambda's
    # function) is the caller's own, so rebuilding it is safe.
    with loading(safe=False):
        rebuilt = Model.from_config(model.get_config(), custom_objects=known)
    rebuilt.set_weights(model.get_weights())
    rebuilt.compile(_optimizer(), "mse")
    np.testing.assert_allclose(
        rebuilt.predict(input_data),
        output,
        rtol=1e-5,
        atol=1e-6,
        err_msg=f"layer_test: {name} computes differently after Model.from_config",
    )

    config = layer.get_config()
    config["batch_input_shape"] = input_shape
    with loading(safe=False):
        layer = layer_cls.from_config(config)
    model = Sequential()
    model.add(layer)
    model.compile(_optimizer(), "mse")
    output = model.predict(input_data)
    _check_shape(f"{name} in a Sequential", expected_shape, output.shape)
    _check_values(f"{name} in a Sequential", output, expected_output)

    loaded = model_from_json(model.to_json(), custom_objects=known, safe_mode=False)
    loaded.set_weights(model.get_weights())
    np.testing.assert_allclose(
        loaded.predict(input_data),
        output,
        rtol=1e-5,
        atol=1e-6,
        err_msg=f"layer_test: {name} computes differently after model_from_json",
    )
    _train_one_batch(f"{name} in a Sequential", model, input_data, output)
    return output


def keras_test(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func``, then restart automatic layer names (Keras 1 cleared its session here)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            K.reset_uids()

    return wrapper
