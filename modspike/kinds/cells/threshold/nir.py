"""NIR ``Threshold`` nodes from other tools (read only)."""

from __future__ import annotations

import nir

from ...nir_values import array

CLAIMS = (nir.Threshold,)


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import ThresholdParams

    return ThresholdParams(array(node, "threshold", name, n)), None, None
