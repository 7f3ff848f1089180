"""Memory of the kind (an integrator keeps its state v), as the LIF family counts it: 24-bit state words, threshold bits."""

from modspike.kinds.types import MemoryFigures

MEMORY = MemoryFigures(state_words=1, param_bits=0)
