"""Keras 1's ``utils.data_utils`` path (``get_file``); the code is lamella-preprocessing's."""

from urllib.request import urlretrieve  # noqa: F401  (Keras 1 re-exported it here)

from lamella.plugins import module_facade

__getattr__, __dir__ = module_facade(__name__, "lamella.preproc.datasets.download", globals())
