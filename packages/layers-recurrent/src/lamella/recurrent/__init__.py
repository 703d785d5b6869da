"""lamella-layers-recurrent: SimpleRNN, GRU, LSTM and the sequence wrappers.

Users import them from ``lamella.layers`` (or ``lamella.layers.recurrent`` /
``.wrappers``); this package holds the implementation.
"""
