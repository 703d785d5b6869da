"""Keras 1's ``keras.wrappers`` package: ``scikit_learn`` (needs scikit-learn)."""
