"""The hook module of lamella-io-hdf5, named by its `lamella` entry point.

This package is still a skeleton: it registers nothing yet, but it is found,
loaded and listed by `lamella plugins` like every other plugin.
"""
