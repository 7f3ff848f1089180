"""Memory of an SRC layer on a Loihi-style core (docs/fixed-point.md §8): three 24-bit state
registers per neuron (i, h, h_s), one 24-bit bias, and the three 513-entry 24-bit tables (tanh,
input squash, slow gate) shared by the layer."""

from modspike.fixedpoint import STATE_BITS
from modspike.kinds.types import MemoryFigures

TABLE_BITS = 3 * 513 * STATE_BITS

MEMORY = MemoryFigures(state_words=3, param_bits=24, shared_bits=TABLE_BITS)
