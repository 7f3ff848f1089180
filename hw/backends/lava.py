"""``lava`` (Lava's CPU simulator, ``fixed_pt``: bit-exact with ``sim``) and ``lava-float``
(``floating_pt`` on the float network, to compare with ``torch``); all samples in one run."""

from __future__ import annotations

import numpy as np

from modspike.network import Network
from modspike.step import Precision, compile, float_logits_numpy

from . import Backend, SimResult, register


def _runner(precision: str):
    def _run(net: Network, spikes, record=True, modulation=None, progress=False) -> SimResult:
        from modspike.hw.lava.graph import run_lava

        rasters, totals, events, seconds, config = run_lava(
            net, spikes, precision=precision, record=record, modulation=modulation
        )
        config["backend"] = "lava" if precision == "fixed" else "lava-float"
        steps = spikes.shape[0]
        if precision == "fixed":
            totals = [np.asarray(t, dtype=np.int64) for t in totals]
            logits = compile(net, Precision.FIXED).readout(totals[-1], steps)
        else:
            logits = float_logits_numpy(net, totals[-1], steps)
        return SimResult(logits, rasters, totals, events, float(seconds), config)

    return _run


LAVA = register(
    Backend("lava", "fixed", _runner("fixed"), one_run=True, description="Lava fixed_pt")
)
LAVA_FLOAT = register(
    Backend("lava-float", "float", _runner("float"), one_run=True, description="Lava floating_pt")
)
