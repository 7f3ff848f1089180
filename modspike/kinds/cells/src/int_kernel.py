"""The compiled twin of :func:`.int_step.step` (numba): the same integer arithmetic in the same
order (``tests/test_compiled.py``), in stages over blocks of neurons.

Why it looks the way it does (measured on this machine kind, AVX-512, 2 vCPUs):

* The table lookups cannot be vectorised (LLVM emits no gathers here), and in one fused loop they
  keep the arithmetic around them scalar too. So each block runs as short loops: the input synapse
  and saturation (vectorised), the squash and gate lookups (scalar), the pre-activation
  (vectorised), the tanh lookup (scalar), the leaky mix and the slow state (vectorised). Products
  are rounded with :func:`modspike.kernels.mul_frac_half`, which has no branch. The batch is
  walked flat, in blocks of whole rows (:func:`modspike.kernels.block_rows`), the parameters
  tiled to one block (:func:`modspike.kernels.per_block`): loops of ~512 values, not of one
  row, so that a vectorised loop's set-up is paid rarely.
* A product of two int64 vectors (``vpmullq``) is three micro-ops on one port, which the two
  vCPUs share: two threads of it run no faster than one. A product of two sign-extended int32
  values (``vpmuldq``) is one. So where :func:`narrow_bound` proves it safe the states and the
  multiplied parameters are held as int32 (and the two differences that are multiplied are
  narrowed to int32, which the bound makes exact); everywhere else the same code runs on int64.
"""

from __future__ import annotations

import numpy as np

from modspike.kernels import (
    block_of,
    block_rows,
    jit,
    lookup_row,
    mul_frac_half,
    per_block,
    rounding_half,
    table_args,
)

from .int_step import SRCIntParams, SRCIntState

PRODUCT_FIELDS = ("alpha", "r", "rs", "z")  # multiplied: int32 rows on the narrow path
STATE_LIMIT = 1 << 30  # narrow states stay below this: their differences fit int32


@jit
def _kernel(a, i0, h0, hs0, alpha, r, rs, z, bias, frac, half, bits, use_z, narrow, block, *tables):
    sq_min, sq_shift, sq_span, sq, sq_full = tables[0:5]
    g_min, g_shift, g_span, gate, g_full = tables[5:10]
    t_min, t_shift, t_span, tanh, t_full = tables[10:15]
    batch, n = a.shape
    total = batch * n
    i1 = np.empty(total, i0.dtype)
    h1 = np.empty(total, i0.dtype)
    hs1 = np.empty(total, i0.dtype)
    out = np.empty(total, np.int64)
    a, i0, h0, hs0 = a.reshape(total), i0.reshape(total), h0.reshape(total), hs0.reshape(total)
    x = np.empty(block, np.int64)  # squashed input, then the pre-activation
    zs = np.empty(block, np.int64)  # slow gate
    h = np.empty(block, np.int64)
    squash = sq.shape[0] > 0
    top = (np.int64(1) << (bits - 1)) - 1
    for k0 in range(0, total, block):
        m = min(block, total - k0)
        k1 = k0 + m
        ab, ib, hb, hsb = a[k0:k1], i0[k0:k1], h0[k0:k1], hs0[k0:k1]
        al, rb, rsb = (
            block_of(alpha, k0, m, total),
            block_of(r, k0, m, total),
            block_of(rs, k0, m, total),
        )
        zb, bb = block_of(z, k0, m, total), block_of(bias, k0, m, total)
        ob, io, ho, hso = out[k0:k1], i1[k0:k1], h1[k0:k1], hs1[k0:k1]
        xb, zsb, hh = x[:m], zs[:m], h[:m]
        for j in range(m):
            xb[j] = min(max(mul_frac_half(al[j], ib[j], frac, half) + ab[j], -top), top)
            io[j] = xb[j]
        if squash:
            lookup_row(io, xb, sq_min, sq_shift, sq_span, sq, sq_full)
        lookup_row(hb, zsb, g_min, g_shift, g_span, gate, g_full)
        for j in range(m):
            pre = xb[j] + mul_frac_half(rb[j], hb[j], frac, half)
            pre = pre + mul_frac_half(rsb[j], hsb[j], frac, half) + bb[j]
            xb[j] = min(max(pre, -top), top)
        lookup_row(xb, hh, t_min, t_shift, t_span, tanh, t_full)
        if use_z:  # z = 0 would add round(0) = 0
            if narrow:
                for j in range(m):
                    hh[j] = hh[j] + mul_frac_half(zb[j], np.int32(hb[j] - hh[j]), frac, half)
            else:
                for j in range(m):
                    hh[j] = hh[j] + mul_frac_half(zb[j], hb[j] - hh[j], frac, half)
        if narrow:
            for j in range(m):
                d = np.int32(hsb[j] - hb[j])
                hso[j] = hb[j] + mul_frac_half(np.int32(zsb[j]), d, frac, half)
        else:
            for j in range(m):
                hso[j] = hb[j] + mul_frac_half(zsb[j], hsb[j] - hb[j], frac, half)
        for j in range(m):
            ho[j] = hh[j]
            ob[j] = max(hh[j], 0)
    shape = (batch, n)
    return out.reshape(shape), i1.reshape(shape), h1.reshape(shape), hs1.reshape(shape)


def narrow_bound(params: SRCIntParams) -> bool:
    """Whether int32 states are exact for these parameters, whatever the drive: ``i`` and the
    pre-activation saturate to ``state_bits`` <= 31; ``h`` is a tanh table value, mixed with
    the previous ``h`` by ``z`` in ``[0, 2**frac]`` (a convex mix, rounding included, stays
    between the two); ``h_s`` is a convex mix of ``h`` and ``h_s`` by the gate, whose values lie in
    ``[0, 2**frac]``. So from states below :data:`STATE_LIMIT` they stay there, and the
    differences the kernel multiplies fit int32. The multiplied parameters must fit int32."""
    unit = 1 << int(params.frac_bits)
    if int(params.state_bits) > 31:
        return False
    tables_ok = all(
        t is None or int(np.abs(t.values).max(initial=0)) < STATE_LIMIT
        for t in (params.squash, params.tanh)
    )
    gate = np.asarray(params.gate.values)
    z = np.asarray(params.z)
    mixes_ok = gate.min() >= 0 and gate.max() <= unit and z.min() >= 0 and z.max() <= unit
    info = np.iinfo(np.int32)
    fits = all(
        info.min <= int(np.min(getattr(params, f))) and int(np.max(getattr(params, f))) <= info.max
        for f in PRODUCT_FIELDS
    )
    return bool(tables_ok and mixes_ok and fits)


def _narrow_states(state, bits: int):
    """The states as int32 when they are within the narrow bound, else None."""
    if all(s.dtype == np.int32 and s.flags.c_contiguous for s in state):
        return state  # this kernel's own: within the bound
    i, h, hs = state
    top = 1 << (bits - 1)
    if np.abs(i).max(initial=0) >= top:
        return None
    if max(np.abs(h).max(initial=0), np.abs(hs).max(initial=0)) >= STATE_LIMIT:
        return None
    return tuple(np.ascontiguousarray(s, dtype=np.int32) for s in state)


def bind(params: SRCIntParams):
    """``step(a, state, params)`` with :func:`.int_step.step`'s contract and values (the tables
    are taken from ``params`` here: a modulation changes only the bias). ``step.narrow`` says
    whether it holds the states as int32 (:func:`narrow_bound`); the state arrays it returns
    are then int32, with the values the numpy step gives."""
    tables = [v for t in (params.squash, params.gate, params.tanh) for v in table_args(t)]
    frac, bits = int(params.frac_bits), int(params.state_bits)
    half = rounding_half(frac)  # checks the range the kernel's rounding assumes
    use_z = bool(np.any(params.z))  # z is no modulation target: fixed for the layer
    narrow = narrow_bound(params)
    held: dict = {}

    def constants(p: SRCIntParams, batch: int, n: int, dtype) -> tuple[list, np.ndarray]:
        """The multiplied parameters as blocks of ``dtype`` and the bias's block, made once
        while the same parameters come in (a modulation replaces the bias at every step, the
        multiplied ones stay)."""
        key = (batch, n, dtype)
        last = held.get(key)
        if last is not None and last[0] is p:
            return last[1], last[2]
        values = [getattr(p, f) for f in PRODUCT_FIELDS]
        if last is not None and all(u is v for u, v in zip(last[3], values)):
            rows = last[1]
        else:
            rows = [per_block(v, batch, n).astype(dtype, copy=False) for v in values]
        bias = per_block(p.bias, batch, n)
        if len(held) > 8:
            held.clear()
        held[key] = (p, rows, bias, values)  # the arrays kept alive: their ids stay theirs
        return rows, bias

    def step(a, state: SRCIntState, p: SRCIntParams):
        a = np.ascontiguousarray(a, dtype=np.int64)
        batch, n = a.shape
        states = _narrow_states(state, bits) if narrow else None
        wide = states is None
        if wide:
            states = tuple(np.ascontiguousarray(s, dtype=np.int64) for s in state)
        rows, bias = constants(p, batch, n, np.int64 if wide else np.int32)
        out, i, h, hs = _kernel(
            a, *states, *rows, bias, frac, half, bits, use_z, not wide, block_rows(n), *tables
        )
        return out, SRCIntState(i, h, hs)

    step.narrow = narrow
    return step
