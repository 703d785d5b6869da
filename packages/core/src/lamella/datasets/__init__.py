"""Keras 1's ``datasets`` modules (``from lamella.datasets import mnist``); the loaders
come from lamella-preprocessing."""
