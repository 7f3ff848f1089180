"""CubaLIF in NIR: the standard ``CubaLIF`` node plus modspike's metadata."""

from __future__ import annotations

import nir
import numpy as np

from ...nir_schema import float32_tau_for_decay
from ...nir_values import array, check_reset, modspike_meta, rate, snap, v_reset
from ..lif.nir import cell_metadata

CLAIMS = (nir.CubaLIF,)
"""Foreign NIR nodes this kind reads."""


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def write(layer, dt: float) -> nir.CubaLIF:
    p, n = layer.cell.params, layer.n
    tau_mem = float32_tau_for_decay(p.beta, dt)
    tau_syn = float32_tau_for_decay(p.alpha, dt)
    zeros = np.zeros(n, dtype=np.float32)
    return nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau_mem,
        r=_f32(tau_mem.astype(np.float64) / dt),
        v_leak=zeros,
        v_threshold=_f32(p.threshold),
        v_reset=zeros.copy(),
        w_in=_f32(tau_syn.astype(np.float64) / dt),
        metadata=cell_metadata(layer, dt, alpha=np.asarray(p.alpha)),
    )


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import CubaLIFParams

    check_reset(node, name)
    meta = modspike_meta(node)
    ks = rate(array(node, "tau_syn", name, n), dt, name, "tau_syn")
    km = rate(array(node, "tau_mem", name, n), dt, name, "tau_mem")
    params = CubaLIFParams(
        alpha=array(meta, "alpha", name, n) if "alpha" in meta else 1.0 - ks,
        gain_syn=snap(ks * array(node, "w_in", name, n)),
        beta=array(meta, "beta", name, n) if "beta" in meta else 1.0 - km,
        gain=snap(km * array(node, "r", name, n)),
        leak=km * array(node, "v_leak", name, n),
        threshold=array(node, "v_threshold", name, n),
        v_reset=v_reset(node, name, n),
    )
    fixed = meta.get("fixed_point")
    return params, None, fixed if isinstance(fixed, dict) else None
