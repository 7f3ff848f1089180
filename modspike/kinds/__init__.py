"""The built-in cell and synapse kinds: one folder per kind, one file per concern
(``kind.py`` assembles them). Registered by :mod:`modspike.kinds.builtin`."""
