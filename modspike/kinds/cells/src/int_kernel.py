"""The compiled twin of :func:`.int_step.step` (numba): one fused pass per neuron instead of ~60
array passes, the same integer arithmetic in the same order (``tests/test_compiled.py``)."""

from __future__ import annotations

import numpy as np

from modspike.kernels import jit, lookup, mul_frac, per_neuron, saturate, table_args

from .int_step import SRCIntParams, SRCIntState


@jit
def _kernel(a, i0, h0, hs0, alpha, r, rs, z, bias, frac, bits, use_z, *tables):
    sq_min, sq_shift, sq_span, sq, sq_full = tables[0:5]
    g_min, g_shift, g_span, gate, g_full = tables[5:10]
    t_min, t_shift, t_span, tanh, t_full = tables[10:15]
    batch, n = a.shape
    i1 = np.empty((batch, n), np.int64)
    h1 = np.empty((batch, n), np.int64)
    hs1 = np.empty((batch, n), np.int64)
    out = np.empty((batch, n), np.int64)
    squash = sq.shape[0] > 0
    for b in range(batch):
        for j in range(n):
            hp = h0[b, j]
            i = saturate(mul_frac(alpha[b, j], i0[b, j], frac) + a[b, j], bits)
            x = lookup(i, sq_min, sq_shift, sq_span, sq, sq_full) if squash else i
            zs = lookup(hp, g_min, g_shift, g_span, gate, g_full)
            pre = x + mul_frac(r[b, j], hp, frac) + mul_frac(rs[b, j], hs0[b, j], frac)
            h = lookup(saturate(pre + bias[b, j], bits), t_min, t_shift, t_span, tanh, t_full)
            if use_z:
                h = h + mul_frac(z[b, j], hp - h, frac)
            i1[b, j] = i
            h1[b, j] = h
            hs1[b, j] = hp + mul_frac(zs, hs0[b, j] - hp, frac)
            out[b, j] = max(h, 0)
    return out, i1, h1, hs1


def bind(params: SRCIntParams):
    """``step(a, state, params)`` with :func:`.int_step.step`'s contract and values (the tables
    are taken from ``params`` here: a modulation changes only the bias)."""
    tables = [v for t in (params.squash, params.gate, params.tanh) for v in table_args(t)]
    frac, bits = int(params.frac_bits), int(params.state_bits)
    use_z = bool(np.any(params.z))  # z is no modulation target: fixed for the layer

    def step(a, state: SRCIntState, p: SRCIntParams):
        a = np.asarray(a, dtype=np.int64)
        per = [per_neuron(getattr(p, f), a.shape) for f in ("alpha", "r", "rs", "z", "bias")]
        out, i, h, hs = _kernel(a, state.i, state.h, state.hs, *per, frac, bits, use_z, *tables)
        return out, SRCIntState(i, h, hs)

    return step
