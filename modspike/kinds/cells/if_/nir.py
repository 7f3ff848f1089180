"""IF in NIR: the standard ``IF`` node (``v += dt * r * I``, so ``gain = dt * r``); modspike's
metadata adds the exact threshold, the spike rule of a layer imported with another tool's
conventions and, for a quantised layer, the integer model. ``read_foreign`` reads a node as its
producer runs it (docs/nir-producers.md; Sinabs' IAF counts spikes and is run by ``multispike``)."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError

from ...nir_values import array, modspike_meta, node_rule, snap, v_reset
from ..lif.nir import cell_metadata
from ..lif.rule import SpikeRule

CLAIMS = (nir.IF,)


def write(layer, dt: float) -> nir.IF:
    p = layer.cell.params
    return nir.IF(
        r=np.asarray(np.asarray(p.gain, dtype=np.float64) / dt, dtype=np.float32),
        v_threshold=np.asarray(p.threshold, dtype=np.float32),
        v_reset=np.asarray(p.v_reset, dtype=np.float32),
        metadata=cell_metadata(layer, dt),
    )


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import IFParams

    rule = node_rule(node, name)
    meta = modspike_meta(node)
    source = meta if "threshold" in meta else node
    attr = "threshold" if source is meta else "v_threshold"
    params = IFParams(
        gain=snap(dt * array(node, "r", name, n)),
        threshold=array(source, attr, name, n),
        v_reset=v_reset(node, name, n),
    )
    fixed = meta.get("fixed_point")
    return params, rule, fixed if isinstance(fixed, dict) else None


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
