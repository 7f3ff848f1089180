"""NIR ``IF`` nodes from other tools (read only); ``read_foreign`` reads them as their producer
runs them (docs/nir-producers.md; Sinabs' IAF counts spikes and is run by ``multispike``)."""

from __future__ import annotations

import nir

from modspike.errors import NIRError

from ...nir_values import array, node_rule, snap, v_reset
from ..lif.rule import SpikeRule

CLAIMS = (nir.IF,)


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import IFParams

    rule = node_rule(node, name)
    params = IFParams(
        gain=snap(dt * array(node, "r", name, n)),
        threshold=array(node, "v_threshold", name, n),
        v_reset=v_reset(node, name, n),
    )
    return params, rule, None


def _spikingjelly(node, name, n, reading):
    """``IFNode``: ``v += dt r I`` (SpikingJelly writes r = 1/dt), fires at ``v >= threshold``,
    then ``v = v_reset``."""
    params, _, _ = read(node, name, n, reading.dt, None)
    return params, SpikeRule(fire="ge")


FOREIGN = {"spikingjelly": _spikingjelly}


def read_foreign(node, name: str, n: int, reading):
    reader = FOREIGN.get(reading.producer)
    if reader is None:
        raise NIRError(
            f"{name}: modspike does not know how {reading.producer} means an IF node (known:"
            f" {', '.join(FOREIGN)}); --producer nir reads it with NIR's forward-Euler meaning"
        )
    return reader(node, name, n, reading)
