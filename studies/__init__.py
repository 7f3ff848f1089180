"""Research studies on the modspike pipeline: excitability analysis, neuromodulated agents (NMD), warm-up.

Studies sit above the pipeline stages: they import ``modspike``, ``train``, ``export``, ``hw`` and
``runtime``, never the other way round (the CLI wires them in).
"""
