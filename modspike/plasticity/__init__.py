"""On-chip learning: Loihi learning rules (STDP, reward-modulated STDP) and an integer twin of Lava's
fixed-point learning engine (``docs/plasticity.md``).

* :mod:`.rules`: rules as sums of products (:class:`~.rules.LearningRule`), :func:`~.rules.stdp`,
  :func:`~.rules.rstdp` built like Lava's ``STDPLoihi`` / ``RewardModulatedSTDP``.
* :mod:`.engine`: the integer engine, bit-exact with Lava 0.10's ``LearningDense`` (fixed_pt).
* :mod:`.float_rules`: the same rules in float torch (the engine without its rounding).
* :mod:`.counters`: synaptic and trace updates per step, for the energy model.
* :mod:`.sim`: one plastic connection in a closed loop with Lava-LIF neurons, or open loop.
* :mod:`.protocols`: spike-pairing protocols and the float-vs-integer comparison.
"""
