"""Keras 1's ``utils.io_utils`` path; ``HDF5Matrix`` needs h5py, so it is lamella-io-hdf5's."""

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.hdf5.matrix", globals())
