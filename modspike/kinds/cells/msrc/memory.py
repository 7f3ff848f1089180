"""Memory of mSRC / BSRC layers: the SRC's registers and tables plus ``h_s0`` (48 parameter bits
per neuron: bias and vertex), and BSRC's fourth state register ``h_u``."""

from modspike.kinds.types import MemoryFigures

from ..src.memory import TABLE_BITS

MSRC_MEMORY = MemoryFigures(state_words=3, param_bits=48, shared_bits=TABLE_BITS)
BSRC_MEMORY = MemoryFigures(state_words=4, param_bits=48, shared_bits=TABLE_BITS)
