"""Cell kinds: ``<kind>/kind.py`` (the record), ``float_step.py`` (torch), ``int_step.py``
(numpy int64), ``quantize.py``, ``nir.py``, ``memory.py``; a kind lacking a concern has no file."""
