"""Synapse kinds: ``<kind>/kind.py`` (the record, shapes), ``float.py``, ``int.py``,
``quantize.py``, ``nir.py``, ``counters.py``."""
