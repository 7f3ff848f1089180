"""The compiled twin of :func:`.int_step.step` (numba): Lava's bit-accurate LIF / CubaLIF in one
fused pass per neuron, the same integer arithmetic (``tests/test_compiled.py``)."""

from __future__ import annotations

import numpy as np

from modspike.fixedpoint import ACT_SHIFT, STATE_BITS, VTH_SHIFT
from modspike.kernels import decay, jit, lava_wrap, per_neuron, saturate

from .int_step import LIFIntParams, LIFIntState


@jit
def _kernel(a, u0, v0, du, dv, vth, bias):
    batch, n = a.shape
    u1 = np.empty((batch, n), np.int64)
    v1 = np.empty((batch, n), np.int64)
    out = np.empty((batch, n), np.int64)
    for b in range(batch):
        for j in range(n):
            u = lava_wrap(decay(u0[b, j], du[b, j] + 1) + (a[b, j] << ACT_SHIFT), STATE_BITS)
            v = saturate(decay(v0[b, j], dv[b, j]) + u + bias[b, j], STATE_BITS)
            spike = v > (vth[b, j] << VTH_SHIFT)
            u1[b, j] = u
            v1[b, j] = 0 if spike else v
            out[b, j] = 1 if spike else 0
    return out, u1, v1


def bind(params: LIFIntParams):
    """``step(a, state, params)`` with :func:`.int_step.step`'s contract and values."""

    def step(a, state: LIFIntState, p: LIFIntParams):
        a = np.asarray(a, dtype=np.int64)
        registers = (p.du, p.dv, p.vth, p.bias)
        out, u, v = _kernel(a, state.u, state.v, *(per_neuron(x, a.shape) for x in registers))
        return out, LIFIntState(u, v)

    return step
