"""IF in NIR: the standard ``IF`` node (``v += dt * r * I``, so ``gain = dt * r``); modspike's
metadata adds the exact threshold and, for a quantised layer, the integer model."""

from __future__ import annotations

import nir
import numpy as np

from modspike.fixedpoint import FORMAT_VERSION

from ...nir_schema import META_KEY, RESET_MODE
from ...nir_values import array, check_reset, modspike_meta, snap, v_reset

CLAIMS = (nir.IF,)


def write(layer, dt: float) -> nir.IF:
    cell = layer.cell
    p = cell.params
    meta = {
        "dt": float(dt),
        "reset_mode": RESET_MODE,
        META_KEY: {
            "format": FORMAT_VERSION,
            "kind": cell.kind.name,
            "threshold": np.asarray(p.threshold),
        },
    }
    if cell.fixed is not None:
        meta[META_KEY]["fixed_point"] = cell.kind.quant.to_dict(cell.fixed)
    return nir.IF(
        r=np.asarray(np.asarray(p.gain, dtype=np.float64) / dt, dtype=np.float32),
        v_threshold=np.asarray(p.threshold, dtype=np.float32),
        v_reset=np.asarray(p.v_reset, dtype=np.float32),
        metadata=meta,
    )


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import IFParams

    check_reset(node, name)
    meta = modspike_meta(node)
    source = meta if "threshold" in meta else node
    attr = "threshold" if source is meta else "v_threshold"
    params = IFParams(
        gain=snap(dt * array(node, "r", name, n)),
        threshold=array(source, attr, name, n),
        v_reset=v_reset(node, name, n),
    )
    fixed = meta.get("fixed_point")
    return params, None, fixed if isinstance(fixed, dict) else None
