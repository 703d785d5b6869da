"""Keras's dataset loaders (``lamella.datasets.mnist`` ...); they download through core's
``lamella.utils.data_utils.get_file``.

Nothing here unpickles a file it cannot vouch for: MNIST and CIFAR are read from formats
that hold plain numbers (``mnist.npz``, CIFAR's binary batches), and the IMDB and Reuters
files, whose ragged sequences numpy stores as pickled objects, are opened only once their
checksum matches the published one (or when the caller passes ``allow_pickle=True``).
"""
