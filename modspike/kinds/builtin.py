"""The built-in kinds, registered by :mod:`modspike.registry` when it loads."""

from .cells.brc.kind import BRC, NBRC
from .cells.cubalif.kind import CUBALIF
from .cells.i.kind import I_KIND
from .cells.if_.kind import IF_KIND
from .cells.li.kind import LI
from .cells.lif.kind import LIF
from .cells.msrc.kind import BSRC, MSRC
from .cells.multispike.kind import MULTISPIKE_KIND
from .cells.src.kind import SRC
from .cells.threshold.kind import THRESHOLD
from .synapses.avgpool2d.kind import AVGPOOL2D
from .synapses.conv1d.kind import CONV1D
from .synapses.conv2d.kind import CONV2D
from .synapses.dense.kind import DENSE
from .synapses.sumpool2d.kind import SUMPOOL2D

BUILTIN = (
    *(SRC, MSRC, BSRC, LIF, CUBALIF, MULTISPIKE_KIND, BRC, NBRC, LI, I_KIND, IF_KIND, THRESHOLD),
    *(DENSE, CONV2D, CONV1D, SUMPOOL2D, AVGPOOL2D),
)
