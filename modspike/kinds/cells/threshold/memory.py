"""Memory of the kind (a threshold is stateless), as the LIF family counts it: 24-bit state words, threshold bits."""

from modspike.kinds.types import MemoryFigures

MEMORY = MemoryFigures(state_words=0, param_bits=0)
