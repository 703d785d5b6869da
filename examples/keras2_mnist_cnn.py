"""Keras 2's mnist_cnn, written in Keras 2's spelling, on lamella.

    python examples/keras2_mnist_cnn.py                      # scikit-learn's 8x8 digits
    python examples/keras2_mnist_cnn.py --data mnist.npz     # the 28x28 MNIST digits

The same network as mnist_cnn.py, spelled as a Keras 2 user writes it: ``Conv2D(32,
kernel_size=(3, 3))``, ``padding=``, ``Model``-free ``Sequential``, ``num_classes=``,
``fit(epochs=...)`` and the input shape chosen by ``K.image_data_format()``. lamella
translates each Keras 2 name to the Keras 1 argument it is built on (docs/keras2.md).

Offline, with the defaults (seed 1337), it reaches 0.9833 test accuracy on the 360 test
digits, as mnist_cnn.py does: it is the same model with the same random numbers.
"""

from __future__ import annotations

from _data import mnist, parser, report

from lamella import backend as K
from lamella.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from lamella.models import Sequential
from lamella.utils.np_utils import to_categorical

num_classes = 10


def main() -> None:
    args = parser(__doc__, epochs=20, data="mnist.npz", data_epochs=12).parse_args()

    import torch

    torch.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = mnist(args.data, args.seed)
    img_rows, img_cols = x_train.shape[1:]
    if K.image_data_format() == "channels_first":
        x_train = x_train.reshape(x_train.shape[0], 1, img_rows, img_cols)
        x_test = x_test.reshape(x_test.shape[0], 1, img_rows, img_cols)
        input_shape = (1, img_rows, img_cols)
    else:
        x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
        x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
        input_shape = (img_rows, img_cols, 1)
    y_train = to_categorical(y_train, num_classes=num_classes)
    y_test = to_categorical(y_test, num_classes=num_classes)
    print(f"x_train shape: {x_train.shape}, {len(x_test)} test digits")

    padding = "valid" if img_rows >= 16 else "same"  # 8x8 digits would shrink to nothing
    model = Sequential()
    model.add(
        Conv2D(32, kernel_size=(3, 3), activation="relu", padding=padding, input_shape=input_shape)
    )
    model.add(Conv2D(32, (3, 3), activation="relu", padding=padding))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(rate=0.25))
    model.add(Flatten())
    model.add(Dense(units=128, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adadelta", metrics=["accuracy"])
    model.fit(
        x_train,
        y_train,
        batch_size=128 if args.data else 32,
        epochs=args.epochs,
        verbose=1,
        validation_data=(x_test, y_test),
    )
    report(model, x_test, y_test, args.expect)


if __name__ == "__main__":
    main()
