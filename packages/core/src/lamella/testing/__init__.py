"""Test helpers for layers: lamella's own tests and third-party plugins use the same one.

``check_layer(Dense, {"output_dim": 3}, input_shape=(4, 5), reference=...)``
builds the layer in a model, runs it, and checks what every layer must get
right.  Pytest fixtures are opt-in: ``pytest_plugins = ["lamella.testing.fixtures"]``.
"""

from lamella.testing.layers import check_layer

__all__ = ["check_layer"]
