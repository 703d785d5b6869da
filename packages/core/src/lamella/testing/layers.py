"""``check_layer``: one harness that checks a layer the way users will rely on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamella.engine.serialization import layer_from_config, layer_to_config
from lamella.engine.topology import Input, Layer
from lamella.engine.training import Model

Reference = Callable[[np.ndarray, list[np.ndarray]], np.ndarray]


def _sample_input(shape: Sequence[int], dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype.startswith("int"):
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _same_shape(declared: Sequence[int | None], actual: Sequence[int], what: str) -> None:
    ok = len(declared) == len(actual) and all(
        d is None or d == a for d, a in zip(declared, actual, strict=True)
    )
    if not ok:
        raise AssertionError(
            f"{what}: declared output shape {tuple(declared)}, "
            f"but the layer returned {tuple(actual)}"
        )


def check_layer(
    layer_cls: type[Layer],
    kwargs: Mapping[str, Any] | None = None,
    input_shape: Sequence[int] | None = None,
    input_data: np.ndarray | None = None,
    input_dtype: str = "float32",
    reference: Reference | None = None,
    expected_output: np.ndarray | None = None,
    weights_count: int | None = None,
    custom_objects: Mapping[str, Any] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    seed: int = 0,
) -> np.ndarray:
    """Build ``layer_cls(**kwargs)`` on an input, check it and return its output.

    Checks: the declared output shape matches the real output; the numbers match
    ``reference(input, layer.get_weights())`` or ``expected_output``; the weight
    count; ``get_config`` survives a JSON round trip through the registry and
    rebuilds a layer that computes the same output from the same weights;
    trainable weights receive gradients; and, where CUDA exists, the layer gives
    the same output on the GPU.
    """
    kwargs = dict(kwargs or {})
    if input_data is None:
        if input_shape is None:
            raise ValueError("check_layer needs input_shape or input_data")
        input_data = _sample_input(input_shape, input_dtype, seed)
    input_data = np.asarray(input_data)
    name = layer_cls.__name__

    layer = layer_cls(**kwargs)
    inputs = Input(batch_shape=(None, *input_data.shape[1:]), dtype=str(input_data.dtype))
    outputs = layer(inputs)
    model = Model(inputs, outputs)
    actual = model.predict(input_data, batch_size=len(input_data))
    _same_shape(outputs.shape, actual.shape, name)

    if weights_count is not None and len(layer.weights) != weights_count:
        raise AssertionError(f"{name}: expected {weights_count} weights, got {len(layer.weights)}")
    if reference is not None:
        np.testing.assert_allclose(
            actual,
            reference(input_data, layer.get_weights()),
            rtol=rtol,
            atol=atol,
            err_msg=f"{name} vs reference",
        )
    if expected_output is not None:
        np.testing.assert_allclose(
            actual, expected_output, rtol=rtol, atol=atol, err_msg=f"{name} vs expected output"
        )

    text = json.dumps(layer_to_config(layer))
    rebuilt = layer_from_config(json.loads(text), custom_objects=custom_objects)
    if type(rebuilt) is not type(layer):
        raise AssertionError(f"{name}: config rebuilt a {type(rebuilt).__name__}")
    if json.dumps(layer_to_config(rebuilt)) != text:
        raise AssertionError(
            f"{name}: get_config changed in a round trip:\n{text}\n"
            f"{json.dumps(layer_to_config(rebuilt))}"
        )
    twin_inputs = Input(batch_shape=(None, *input_data.shape[1:]), dtype=str(input_data.dtype))
    twin = Model(twin_inputs, rebuilt(twin_inputs))
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        twin.predict(input_data, batch_size=len(input_data)),
        actual,
        rtol=rtol,
        atol=atol,
        err_msg=f"{name} rebuilt from its config computes differently",
    )

    if layer.trainable_weights:
        model.train()
        result = model(torch.as_tensor(input_data))
        torch.stack(
            [r.float().sum() for r in (result if isinstance(result, list) else [result])]
        ).sum().backward()
        model.eval()
        missing = [w._keras_name for w in layer.trainable_weights if w.grad is None]
        if missing:
            raise AssertionError(f"{name}: no gradient reached {missing}")

    if torch.cuda.is_available():
        model.to("cuda")
        on_gpu = model.predict(input_data, batch_size=len(input_data))
        np.testing.assert_allclose(
            on_gpu, actual, rtol=1e-4, atol=1e-4, err_msg=f"{name} differs on CUDA"
        )
    return actual
