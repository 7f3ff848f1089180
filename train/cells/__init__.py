"""The cell family: one pure step function per cell, each with a thin ``nn.Module`` around it."""

from .brc import BRCCell, brc_step
from .lif import CubaLIFCell, LIFCell
from .msrc import BSRC_CONSTANTS, BSRCCell, MSRCCell, MSRCConstants, MSRCState, msrc_step
from .src import SRCCell, SRCConstants, SRCState, src_step
from .surrogate import straight_through_relu

SPIKING_CELLS = ("src", "msrc", "bsrc", "lif", "cubalif")
RECURRENT_CELLS = ("brc", "nbrc")
ALL_KINDS = SPIKING_CELLS + RECURRENT_CELLS + ("ann",)

__all__ = [
    "ALL_KINDS",
    "BRCCell",
    "BSRCCell",
    "BSRC_CONSTANTS",
    "CubaLIFCell",
    "LIFCell",
    "MSRCCell",
    "MSRCConstants",
    "MSRCState",
    "RECURRENT_CELLS",
    "SPIKING_CELLS",
    "SRCCell",
    "SRCConstants",
    "SRCState",
    "brc_step",
    "msrc_step",
    "src_step",
    "straight_through_relu",
]
