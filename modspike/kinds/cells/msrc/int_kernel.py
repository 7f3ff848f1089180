"""The compiled twin of :func:`.int_step.step` (numba), mSRC and BSRC: the same integer
arithmetic in the same order, one fused pass per neuron (``tests/test_compiled.py``)."""

from __future__ import annotations

import numpy as np

from modspike.kernels import jit, lookup, mul_frac, per_neuron, saturate, shift_round, table_args

from .int_step import MSRCIntParams, MSRCIntState

FIELDS = ("alpha", "r", "rs", "ru", "zu", "bias", "hs0")


@jit
def _kernel(a, i0, h0, hs0, hu0, alpha, r, rs, ru, zu, bias, vertex, frac, bits, ultra, *tables):
    sq_min, sq_shift, sq_span, sq, sq_full = tables[0:5]
    g_min, g_shift, g_span, gate, g_full = tables[5:10]
    t_min, t_shift, t_span, tanh, t_full = tables[10:15]
    batch, n = a.shape
    i1 = np.empty((batch, n), np.int64)
    h1 = np.empty((batch, n), np.int64)
    hs1 = np.empty((batch, n), np.int64)
    hu1 = np.empty((batch, n), np.int64)
    out = np.empty((batch, n), np.int64)
    squash = sq.shape[0] > 0
    for b in range(batch):
        for j in range(n):
            hp, hsp, hup = h0[b, j], hs0[b, j], hu0[b, j]
            i = saturate(mul_frac(alpha[b, j], i0[b, j], frac) + a[b, j], bits)
            x = lookup(i, sq_min, sq_shift, sq_span, sq, sq_full) if squash else i
            zs = lookup(hp, g_min, g_shift, g_span, gate, g_full)
            q = saturate(hsp + vertex[b, j], bits)
            pre = x + mul_frac(r[b, j], hp, frac)
            pre = pre + mul_frac(rs[b, j], shift_round(q * q, frac), frac) + bias[b, j]
            hu = hup
            if ultra:
                pre = pre + mul_frac(ru[b, j], hup, frac)
                hu = hp + mul_frac(zu[b, j], hup - hp, frac)
            h = lookup(saturate(pre, bits), t_min, t_shift, t_span, tanh, t_full)
            i1[b, j] = i
            h1[b, j] = h
            hs1[b, j] = hp + mul_frac(zs, hsp - hp, frac)
            hu1[b, j] = hu
            out[b, j] = max(h, 0)
    return out, i1, h1, hs1, hu1


def bind(params: MSRCIntParams):
    """``step(a, state, params)`` with :func:`.int_step.step`'s contract and values (the tables
    are taken from ``params`` here: a modulation changes only the bias and ``h_s0``)."""
    tables = [v for t in (params.squash, params.gate, params.tanh) for v in table_args(t)]
    frac, bits = int(params.frac_bits), int(params.state_bits)
    ultra = params.ru is not None

    def step(a, state: MSRCIntState, p: MSRCIntParams):
        a = np.asarray(a, dtype=np.int64)
        per = [per_neuron(0 if getattr(p, f) is None else getattr(p, f), a.shape) for f in FIELDS]
        out, *s = _kernel(a, *state, *per, frac, bits, ultra, *tables)
        return out, MSRCIntState(*s)

    return step
