"""mSRC / BSRC in NIR: the SRC family's extension subgraph with parameters ``b`` and ``hs0``."""

from __future__ import annotations

import numpy as np

from ..src.nir import read_extension, write_extension


def write(layer, dt: float):
    p = layer.cell.params
    return write_extension(layer, dt, {"b": np.asarray(p.b), "hs0": np.asarray(p.hs0)})


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import MSRCParams

    values, consts, fixed = read_extension(node, name, n, kind, ("b", "hs0"))
    return MSRCParams(values["b"], values["hs0"]), consts, fixed
