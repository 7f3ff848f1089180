"""SumPool2d in NIR (kernel size, stride, padding; no channel count: the weight is built from the
input shape)."""

from __future__ import annotations

import nir

from .._conv import pool

CLAIMS = (nir.SumPool2d,)


def write(synapse, meta: dict) -> nir.SumPool2d:
    pool.check_pool(synapse, average=False)
    return nir.SumPool2d(**pool.write_fields(synapse), metadata=meta)


def read(node, name: str, in_shape=None):
    return pool.read(node, name, in_shape, average=False)
