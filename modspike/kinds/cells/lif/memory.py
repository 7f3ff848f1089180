"""Memory of a LIF / CubaLIF layer on a Loihi-style core: two 24-bit state registers per neuron
(u, v), a 17-bit threshold and a 13-bit bias per neuron, and one 24-bit decay register shared by
the layer (Lava holds ``du``/``dv`` per process)."""

from modspike.kinds.types import MemoryFigures

MEMORY = MemoryFigures(state_words=2, param_bits=17 + 13, shared_bits=24)
