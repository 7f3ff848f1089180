"""NIR ``LI`` nodes from other tools (read only)."""

from __future__ import annotations

import nir

from ...nir_values import array, rate, snap

CLAIMS = (nir.LI,)


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import LIParams

    k = rate(array(node, "tau", name, n), dt, name)
    params = LIParams(
        beta=1.0 - k,
        gain=snap(k * array(node, "r", name, n)),
        leak=k * array(node, "v_leak", name, n),
    )
    return params, None, None
