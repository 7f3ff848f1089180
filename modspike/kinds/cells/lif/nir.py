"""LIF in NIR: the standard ``LIF`` node, whose forward-Euler step at ``dt`` is the discrete cell;
modspike's metadata adds the exact decay, the threshold and the integer model."""

from __future__ import annotations

import nir
import numpy as np

from modspike.fixedpoint import FORMAT_VERSION

from ...nir_schema import META_KEY, RESET_MODE, float32_tau_for_decay
from ...nir_values import array, check_reset, modspike_meta, rate, snap, v_reset

CLAIMS = (nir.LIF,)
"""Foreign NIR nodes this kind reads."""


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def cell_metadata(layer, dt: float, **extra) -> dict:
    cell = layer.cell
    meta = {
        "dt": float(dt),
        "reset_mode": RESET_MODE,
        META_KEY: {
            "format": FORMAT_VERSION,
            "kind": cell.kind.name,
            "beta": np.asarray(cell.params.beta),
            "threshold": np.asarray(cell.params.threshold),
            **extra,
        },
    }
    if cell.fixed is not None:
        meta[META_KEY]["fixed_point"] = cell.kind.quant.to_dict(cell.fixed)
    return meta


def write(layer, dt: float) -> nir.LIF:
    p, n = layer.cell.params, layer.n
    tau_mem = float32_tau_for_decay(p.beta, dt)
    zeros = np.zeros(n, dtype=np.float32)
    return nir.LIF(
        tau=tau_mem,
        r=_f32(tau_mem.astype(np.float64) / dt),
        v_leak=zeros,
        v_threshold=_f32(p.threshold),
        v_reset=zeros.copy(),
        metadata=cell_metadata(layer, dt),
    )


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import LIFParams

    check_reset(node, name)
    meta = modspike_meta(node)
    k = rate(array(node, "tau", name, n), dt, name)
    beta = array(meta, "beta", name, n) if "beta" in meta else 1.0 - k
    params = LIFParams(
        beta=beta,
        threshold=array(node, "v_threshold", name, n),
        gain=snap(k * array(node, "r", name, n)),
        leak=k * array(node, "v_leak", name, n),
        v_reset=v_reset(node, name, n),
    )
    fixed = meta.get("fixed_point")
    return params, None, fixed if isinstance(fixed, dict) else None
