"""Keras 2 spellings, translated to the Keras 1 arguments lamella is built on.

One table (``tables``, with value conversions in ``arguments``) serves both places that
meet Keras 2: layer constructors (``construct``: ``Dense(units=64)``) and the reader of
Keras 2/3 files in lamella-io-hdf5. Adding a row teaches both.
"""
