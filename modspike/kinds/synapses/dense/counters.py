"""Operation counts of a dense projection (NeuroBench conventions, docs/energy.md)."""

from __future__ import annotations

import numpy as np


def events(x: np.ndarray, weight: np.ndarray, attrs):
    """For a source ``x`` (T, B, k) and weights (n, k): per step and sample the synaptic events
    (non-zero presynaptic value on a non-zero weight), the same weighted by ``|x|`` (graded), and
    which postsynaptic neurons received at least one event (T, B, n)."""
    x = np.asarray(x)
    if x.ndim > 3:
        x = x.reshape(*x.shape[:2], -1)
    nzw = (np.asarray(weight) != 0).astype(np.int64)
    xnz = (x != 0).astype(np.int64)
    fan_out = nzw.sum(0)
    effective = xnz @ fan_out
    graded = np.abs(x).astype(np.float64) @ fan_out.astype(np.float64)
    received = (xnz @ nzw.T) > 0
    return effective, graded, received


def dense_ops(synapse, in_shape) -> int:
    """Multiply-accumulates of one dense evaluation (every synapse)."""
    return int(np.asarray(synapse.weight).size)


def fan_in(synapse) -> int:
    return int(np.asarray(synapse.weight).shape[1])
