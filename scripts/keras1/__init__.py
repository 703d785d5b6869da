"""Pieces shared by the Keras 1 yardsticks (``keras1_conformance.py``, ``keras1_examples.py``).

``alias`` makes ``import keras...`` give lamella, ``compat`` restores the numpy 1, six and
pytest 3 behaviour that 2017 code relies on, ``source`` extracts files of a Keras tag from
git, ``record`` is the pytest plugin that records results, and ``standin`` replaces datasets
and downloads by generated data.
"""
