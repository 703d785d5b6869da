"""A neural network from scratch in numpy, then the same network in lamella, step for step.

    python examples/network_from_scratch.py

The seed notes walk through Michael Nielsen's ``network.py``: a ``Network`` of
sigmoid layers, trained by mini-batch stochastic gradient descent with
backpropagation written out by hand.  The first half of this file is that
program, with the notes' names, looping over one sample at a time as the notes
do.  The second half builds the same network in lamella (``Dense`` layers with
sigmoid activations, mean squared error, plain ``SGD``), copies the numpy
network's starting weights into it and feeds it the very same mini-batches in
the same order.  Each epoch prints both test accuracies, which agree, and the
largest difference between the two sets of weights.  That difference is float32
rounding, growing from about 2e-6 to a few times 1e-5 over the 30 epochs; with
``--floatx float64`` it stays below 1e-13, because the two programs take the
same steps.

The one non-obvious line is the learning rate: lamella's ``mse`` averages over
the output units as well as the batch, so ``SGD(lr=eta * k / 2)`` (k outputs)
is what makes its step equal to the notes' ``eta``; see :func:`lamella_lr`.

With the defaults ([64, 30, 10], 30 epochs of mini-batches of 10, eta 3.0,
seed 1337) both reach 0.9750 test accuracy on scikit-learn's 8x8 digits (seeds
1, 2 and 3 give 0.9611, 0.9778 and 0.9694) in about 4 s on two CPU cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np

from lamella.backend import set_floatx
from lamella.layers import Dense
from lamella.models import Sequential
from lamella.optimizers import SGD

#: A training sample as the notes hold it: a column ``x`` and a one-hot column ``y``.
Sample = tuple[np.ndarray, np.ndarray]

# ---------------------------------------------------------------------------------------------
# Part 1: the notes' network in plain numpy.
# ---------------------------------------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, applied element by element."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """The derivative of :func:`sigmoid`, which backprop multiplies into each delta."""
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    """Fully connected sigmoid layers of ``sizes`` neurons; the first entry is the input.

    ``weights[l]`` has shape ``(sizes[l + 1], sizes[l])`` and ``biases[l]`` is a column
    ``(sizes[l + 1], 1)``, so a layer computes ``sigmoid(w @ a + b)`` on a column ``a``.
    """

    def __init__(self, sizes: Sequence[int], rng: np.random.Generator) -> None:
        # Gaussian starting points: gradient descent needs somewhere to start from, and
        # random values keep the hidden neurons from all learning the same thing.
        # The same seeded generator later shuffles the training data, so a seed fixes
        # the whole run.
        self.rng = rng
        self.num_layers = len(sizes)
        self.sizes = list(sizes)
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in pairwise(sizes)]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """The network's output for the input column ``a``."""
        for b, w in zip(self.biases, self.weights, strict=True):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(  # the notes' name, capitals and all
        self,
        training_data: list[Sample],
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data: list[tuple[np.ndarray, int]] | None = None,
        after_epoch: Callable[[int, list[list[Sample]]], None] | None = None,
    ) -> None:
        """Stochastic gradient descent: each epoch shuffles, cuts mini-batches, steps on each.

        ``after_epoch(j, mini_batches)`` (not in the notes) is told which mini-batches
        epoch ``j`` used, in order, so another model can take the same steps.
        """
        n = len(training_data)
        for j in range(epochs):
            order = self.rng.permutation(n)  # a fresh random order every epoch
            shuffled = [training_data[i] for i in order]
            mini_batches = [shuffled[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {len(test_data)}")
            else:
                print(f"Epoch {j} complete")
            if after_epoch is not None:
                after_epoch(j, mini_batches)

    def update_mini_batch(self, mini_batch: list[Sample], eta: float) -> None:
        """One gradient descent step along the mini-batch's average gradient."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        # Dividing the sum by the batch size makes it an average: the step does not
        # grow with the batch.
        step = eta / len(mini_batch)
        self.weights = [w - step * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - step * nb for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The gradient of one sample's cost ``C = 1/2 * sum((a - y)**2)``, layer by layer.

        Returns ``(nabla_b, nabla_w)`` shaped like ``biases`` and ``weights``.
        """
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # Forward: keep every weighted input z and every activation; the backward
        # pass needs them.
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # Backward: the output layer's error (BP1), then each earlier layer's from the
        # one after it (BP2); each error gives that layer's gradients (BP3, BP4).
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            z = zs[-layer]
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sigmoid_prime(z)
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w

    def evaluate(self, test_data: list[tuple[np.ndarray, int]]) -> int:
        """How many test inputs the network classifies right: the largest output wins."""
        test_results = [(np.argmax(self.feedforward(x)), y) for x, y in test_data]
        return sum(int(x == y) for x, y in test_results)

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dC/da for ``C = 1/2 * sum((a - y)**2)``: the 1/2 cancels the square's 2."""
        return output_activations - y


# ---------------------------------------------------------------------------------------------
# Part 2: the same network in lamella.
# ---------------------------------------------------------------------------------------------


def lamella_lr(eta: float, outputs: int) -> float:
    """The lamella SGD learning rate that takes the notes' step for ``eta``.

    For a mini-batch of m samples with k output units the notes descend
    ``C = 1/m * sum_i 1/2 * sum_j (a_ij - y_ij)**2`` by ``eta * grad C`` (backprop gives
    each sample's gradient, update_mini_batch averages them), so dC/da_ij = (a_ij - y_ij) / m.
    lamella's ``mse`` is Keras's: the mean over the k outputs of each sample, then the mean
    over the batch, ``L = 1/(m*k) * sum_i sum_j (a_ij - y_ij)**2``, so
    dL/da_ij = 2 * (a_ij - y_ij) / (m*k) = (2/k) * dC/da_ij.  Every weight's gradient follows
    from dL/da by the same chain rule, so grad L = (2/k) * grad C, and ``lr * grad L`` equals
    ``eta * grad C`` exactly when ``lr = eta * k / 2``.  The often quoted ``eta / 2`` forgets
    the mean over the k outputs; it is right only for one output unit.
    """
    return eta * outputs / 2


def build(sizes: Sequence[int], eta: float) -> Sequential:
    """The notes' network as Keras 1 layers, compiled to take the notes' SGD steps."""
    layers = [Dense(sizes[1], input_dim=sizes[0], activation="sigmoid")]
    layers += [Dense(size, activation="sigmoid") for size in sizes[2:]]
    model = Sequential(layers)
    model.compile(loss="mse", optimizer=SGD(lr=lamella_lr(eta, sizes[-1])))
    return model


def keras_weights(net: Network) -> list[np.ndarray]:
    """``net``'s weights in the order and shapes ``model.set_weights`` takes.

    A Keras Dense layer holds ``W`` of shape (inputs, outputs) and computes ``x @ W + b``
    on rows, the transpose of the notes' ``w @ a + b`` on columns; its bias is flat.
    """
    result = []
    for w, b in zip(net.weights, net.biases, strict=True):
        result += [w.T, b.ravel()]
    return result


def stack(mini_batch: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """The notes' list of ``(x, y)`` columns as the rows Keras trains on."""
    x = np.hstack([x for x, _ in mini_batch]).T
    y = np.hstack([y for _, y in mini_batch]).T
    return x, y


def evaluate(model: Sequential, test_data: list[tuple[np.ndarray, int]]) -> int:
    """:meth:`Network.evaluate` for the lamella model: the count of right answers."""
    x = np.hstack([x for x, _ in test_data]).T
    labels = np.array([y for _, y in test_data])
    return int((model.predict(x, verbose=0).argmax(axis=-1) == labels).sum())


def largest_difference(net: Network, model: Sequential) -> float:
    """The largest absolute difference between any weight or bias of the two models."""
    pairs = zip(keras_weights(net), model.get_weights(), strict=True)
    return max(float(np.abs(ours - theirs).max()) for ours, theirs in pairs)


def train_both(
    net: Network,
    model: Sequential,
    training_data: list[Sample],
    epochs: int,
    mini_batch_size: int,
    eta: float,
    test_data: list[tuple[np.ndarray, int]],
) -> list[tuple[int, int, float]]:
    """Run the notes' SGD on ``net`` and, after each epoch, the same batches on ``model``.

    ``model`` must start from ``net``'s weights.  Returns, per epoch, the numpy
    network's right answers, the lamella model's and the largest weight difference.
    """
    history = []

    def lamella_epoch(j: int, mini_batches: list[list[Sample]]) -> None:
        for mini_batch in mini_batches:
            model.train_on_batch(*stack(mini_batch))
        right, difference = evaluate(model, test_data), largest_difference(net, model)
        print(f"  lamella {right} / {len(test_data)}, largest weight difference {difference:.1e}")
        history.append((net.evaluate(test_data), right, difference))

    net.SGD(training_data, epochs, mini_batch_size, eta, test_data, after_epoch=lamella_epoch)
    return history


def samples(x: np.ndarray, labels: np.ndarray, classes: int) -> list[Sample]:
    """Rows of ``x`` and integer labels as the notes' training pairs of columns."""
    return [
        (row.reshape(-1, 1), np.eye(classes)[label].reshape(-1, 1))
        for row, label in zip(x, labels, strict=True)
    ]


def main() -> None:
    # Imported here, not at the top, so that a test can import this file (the network
    # and the lamella builder) where scikit-learn, which _data needs, is not installed.
    from _data import check, load, parser

    options = parser(__doc__, epochs=30)
    options.add_argument(
        "--sizes", type=int, nargs="+", default=[64, 30, 10], help="neurons per layer, input first"
    )
    options.add_argument("--batch-size", type=int, default=10, help="the notes' mini_batch_size")
    options.add_argument("--eta", type=float, default=3.0, help="the notes' learning rate")
    options.add_argument(
        "--floatx",
        choices=["float32", "float64"],
        default="float32",
        help="lamella's float type; numpy always computes in float64",
    )
    args = options.parse_args()
    set_floatx(args.floatx)

    x_train, labels_train, x_test, labels_test = load(args.seed)
    classes = args.sizes[-1]
    training_data = samples(x_train.astype("float64"), labels_train, classes)
    test_data = [
        (row.reshape(-1, 1), int(label))
        for row, label in zip(x_test.astype("float64"), labels_test, strict=True)
    ]
    print(f"{len(training_data)} training and {len(test_data)} test digits, sizes {args.sizes}")

    net = Network(args.sizes, np.random.default_rng(args.seed))
    model = build(args.sizes, args.eta)
    model.set_weights(keras_weights(net))
    print(f"lamella SGD(lr={lamella_lr(args.eta, classes)}) for eta {args.eta}")

    history = train_both(
        net, model, training_data, args.epochs, args.batch_size, args.eta, test_data
    )
    numpy_right, lamella_right, _ = history[-1]
    print(f"numpy network test accuracy: {numpy_right / len(test_data):.4f}")
    accuracy = lamella_right / len(test_data)
    print(f"Test accuracy: {accuracy:.4f}")
    check(accuracy, args.expect)


if __name__ == "__main__":
    main()
