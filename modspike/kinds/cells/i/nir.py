"""NIR ``I`` nodes from other tools (read only)."""

from __future__ import annotations

import nir

from ...nir_values import array, snap

CLAIMS = (nir.I,)


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import IParams

    return IParams(gain=snap(dt * array(node, "r", name, n))), None, None
