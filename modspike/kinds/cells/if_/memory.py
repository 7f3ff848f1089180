"""Memory of the kind (an integrate-and-fire neuron keeps v and a 17-bit threshold), as the LIF family counts it: 24-bit state words, threshold bits."""

from modspike.kinds.types import MemoryFigures

MEMORY = MemoryFigures(state_words=1, param_bits=17)
