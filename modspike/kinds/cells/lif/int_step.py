"""LIF / CubaLIF integer dynamics: Lava's bit-accurate Loihi model (``PyLifModelBitAcc``).

12-bit decays ``du``/``dv``, a 24-bit current ``u`` that wraps and a 24-bit voltage ``v`` that
saturates, the synaptic input and the threshold shifted left by 6 (nir-lava.md §1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from modspike.arrays import int64, where
from modspike.fixedpoint import ACT_SHIFT, VTH_SHIFT, decay, lava_wrap, saturate


class LIFIntParams(NamedTuple):
    """Integer LIF / CubaLIF parameters, per neuron (Lava holds ``du``/``dv`` per process)."""

    du: np.ndarray  # current decay, 0..4095; 4095 means u carries no memory (plain LIF)
    dv: np.ndarray  # voltage decay, 0..4095
    vth: np.ndarray  # threshold mantissa, 0..131071; compared with v as vth << 6
    bias: np.ndarray  # Lava's bias_mant << bias_exp, added to v unshifted (0 in modspike exports)


class LIFIntState(NamedTuple):
    u: np.ndarray
    v: np.ndarray


def initial_state(batch: int, n: int) -> LIFIntState:
    z = np.zeros((batch, n), dtype=np.int64)
    return LIFIntState(z, z.copy())


def step(a_in: np.ndarray, state: LIFIntState, p: LIFIntParams) -> tuple[np.ndarray, LIFIntState]:
    """One step of Lava's ``PyLifModelBitAcc`` on a batch: ``(spikes 0/1, state)``; ``a_in`` is
    the Dense output (already weight-scaled integers). Numpy arrays or torch int64 tensors."""
    u = decay(state.u, p.du + 1) + (int64(a_in) << ACT_SHIFT)
    u = lava_wrap(u)
    v = decay(state.v, p.dv) + u + p.bias
    v = saturate(v)
    spikes = v > (int64(p.vth, like=v) << VTH_SHIFT)
    v = where(spikes, 0, v)
    return int64(spikes), LIFIntState(u, v)


def drive_exponent(fixed) -> np.ndarray:
    """A drive value is worth ``2**E_v``: the voltage unit before Lava's shift by 6."""
    return fixed.state_exp + VTH_SHIFT
