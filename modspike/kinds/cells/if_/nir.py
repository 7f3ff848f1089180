"""NIR ``IF`` nodes from other tools (read only)."""

from __future__ import annotations

import nir

from ...nir_values import array, check_reset, snap, v_reset

CLAIMS = (nir.IF,)


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import IFParams

    check_reset(node, name)
    params = IFParams(
        gain=snap(dt * array(node, "r", name, n)),
        threshold=array(node, "v_threshold", name, n),
        v_reset=v_reset(node, name, n),
    )
    return params, None, None
