"""NMD benchmark 1 (Vecoven et al. 2020) ported from the authors' code (``nvecoven/nmd_net@af43e17``).

``env``: the moving-target task with a hidden offset; ``networks``: the authors' NMD net and RNN
baseline (and the mSRC variant of the spiking extension in ``spiking``); ``ppo``: their PPO with an
adaptive KL penalty. Specification: ``shared/spec/fidelity.md`` sections 2 and 3; results:
``benchmarks/nmd_benchmark1.py``.
"""
