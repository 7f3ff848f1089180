"""A Lava Process for one SRC-family layer (src, msrc, bsrc) of an :class:`IntNetwork`.

Ports: ``a_in`` takes the raw integer accumulation of the feed-forward ``Dense`` (weights passed
as ``2*q`` with ``weight_exp=-1``, see ``docs/hardware.md``), ``r_in`` the recurrent ``Dense``,
``s_out`` sends the graded output ``max(h, 0)`` in state units. Vars ``i, h, hs, hu`` hold the
state. The integer parameters (per-neuron constants and the piecewise-linear tables) travel in
``proc_params`` as the layer itself, so the model runs the very functions of
:mod:`modspike.fixedpoint`. Every ``period`` steps, on ``time_step % period == gap_offset``, the
model zeroes its state and sends zeros: one silent gap step that separates samples run back to
back.
"""

from __future__ import annotations

import numpy as np
from modspike.hw.lava_support import import_lava

import_lava()

from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402


class SRCLayer(AbstractProcess):
    """One SRC-family layer; ``layer`` is a :class:`modspike.fxpnet.IntLayer` of kind src/msrc/bsrc."""

    def __init__(self, *, layer, period: int, gap_offset: int, name: str | None = None):
        n = layer.n
        super().__init__(
            shape=(n,), layer=layer, period=int(period), gap_offset=int(gap_offset), name=name
        )
        self.a_in = InPort(shape=(n,))
        self.r_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        for var in ("i", "h", "hs", "hu"):
            setattr(self, var, Var(shape=(n,), init=np.zeros(n, dtype=np.int64)))
