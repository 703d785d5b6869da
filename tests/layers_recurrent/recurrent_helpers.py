"""What the recurrent tests share: sizes and masks, numpy activations and Keras's masked
recurrence for their references, and ways to run a layer and fix its dropout masks.

The test modules of this folder import it by name: ``conftest.py`` puts the folder on
``sys.path``, which ``--import-mode=importlib`` does not do for them.
"""

from __future__ import annotations

import numpy as np
import torch

B, T, IN, N = 3, 5, 4, 6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


NP_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "relu": lambda x: np.maximum(x, 0.0),
    None: None,
}
#: (B, T) masks: one kept run of steps per sample (post, pre, middle) or not (holes, empty_row).
MASKS = {
    "post": [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]],
    "pre": [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]],
    "middle": [[0, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0]],
    "holes": [[1, 0, 1, 0, 1], [0, 1, 1, 0, 1], [1, 1, 1, 1, 0]],
    "empty_row": [[0, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]],
}


def random(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def randomize(layer, seed=1):
    """Random weights (biases too), in whatever layout the layer speaks."""
    layer.set_weights(
        [0.5 * random(*w.shape, seed=seed + k) for k, w in enumerate(layer.get_weights())]
    )


def as_mask(mask):
    return None if mask is None else torch.as_tensor(np.asarray(mask, dtype=bool))


def run(layer, x, mask=None):
    return layer(torch.as_tensor(x), as_mask(mask)).detach().numpy()


def outputs_and_gradients(layer, x, mask=None):
    """The output, and the gradients at the input and at every trainable weight of a
    fixed weighting of it: what two paths computing one function must agree on."""
    inputs = torch.as_tensor(x).requires_grad_()
    y = layer(inputs, as_mask(mask))
    (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
    return [y.detach(), inputs.grad, *(w.grad for w in layer.trainable_weights)]


def unroll(step, x, states, return_sequences=False, go_backwards=False, mask=None):
    """Keras's recurrence around ``step(x_t, states) -> new states`` (the output first):
    (output, final states).  A masked step keeps the states and outputs the previous h."""
    outputs = []
    for t in reversed(range(x.shape[1])) if go_backwards else range(x.shape[1]):
        new = step(x[:, t], states)
        if mask is not None:
            keep = np.asarray(mask, dtype=bool)[:, t, None]
            new = [np.where(keep, a, s) for a, s in zip(new, states, strict=True)]
        states = new
        outputs.append(states[0])
    return (np.stack(outputs, 1) if return_sequences else outputs[-1]), states


def fixed_dropout_masks(layer):
    """Make the training ``layer`` draw fixed dropout masks (keeping 60%), and return them
    as the references take them: {"dropout_W"/"dropout_U": {gate: (batch, dim)} or None}.

    There is one mask per gate block (one for all with consume_less='gpu'), and block k
    goes with the k-th gate the Parameters stack (``layer.gates``).
    """
    blocks = 1 if layer.consume_less == "gpu" else len(layer.gates)
    rng = np.random.default_rng(5)
    drawn = {
        arg: (rng.random((blocks, B, dim)) < 0.6).astype("float32") / 0.6
        if getattr(layer, arg)
        else None
        for arg, dim in (("dropout_W", IN), ("dropout_U", N))
    }
    layer._dropout_masks = lambda x: tuple(
        None if m is None else torch.as_tensor(m) for m in drawn.values()
    )
    return {
        arg: None if m is None else {g: m[k % blocks] for k, g in enumerate(layer.gates)}
        for arg, m in drawn.items()
    }
