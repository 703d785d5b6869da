"""Keras 1's preprocessing modules; the code comes from lamella-preprocessing."""
