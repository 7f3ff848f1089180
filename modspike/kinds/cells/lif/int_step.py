"""LIF / CubaLIF integer dynamics: Lava's bit-accurate Loihi model (``PyLifModelBitAcc``).

12-bit decays ``du``/``dv``, a 24-bit current ``u`` that wraps and a 24-bit voltage ``v`` that
saturates, the synaptic input and the threshold shifted left by 6 (nir-lava.md §1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from modspike.arrays import int64, where
from modspike.fixedpoint import ACT_SHIFT, VTH_SHIFT, decay, lava_wrap, saturate

from .rule import SpikeRule, int_spikes, reset_int


class LIFIntParams(NamedTuple):
    """Integer LIF / CubaLIF parameters, per neuron (Lava holds ``du``/``dv`` per process)."""

    du: np.ndarray  # current decay, 0..4095; 4095 means u carries no memory (plain LIF)
    dv: np.ndarray  # voltage decay, 0..4095
    vth: np.ndarray  # threshold mantissa, 0..131071; compared with v as vth << 6
    bias: np.ndarray  # Lava's bias_mant << bias_exp, added to v unshifted (0 in modspike exports)
    rule: SpikeRule | None = None  # another tool's reset / firing (rule.py); None: Lava's LIF


class LIFIntState(NamedTuple):
    u: np.ndarray
    v: np.ndarray


def initial_state(batch: int, n: int) -> LIFIntState:
    z = np.zeros((batch, n), dtype=np.int64)
    return LIFIntState(z, z.copy())


def step(a_in: np.ndarray, state: LIFIntState, p: LIFIntParams) -> tuple[np.ndarray, LIFIntState]:
    """One step of Lava's ``PyLifModelBitAcc`` on a batch: ``(spikes 0/1, state)``; ``a_in`` is
    the Dense output (already weight-scaled integers). Numpy arrays or torch int64 tensors.

    Under a :class:`~.rule.SpikeRule` (a layer imported with another tool's conventions) the
    same registers step the rule: ``v`` is kept before its reset, the last step's spikes reset it
    before and/or after the decay, and the threshold ``vth << 6`` is compared with ``>``, ``>=``
    or divides ``v`` (spike counts). Lava's own LIF cannot run that; modspike's ``StepLayer``
    runs this function on Lava (hw/lava)."""
    u = decay(state.u, p.du + 1) + (int64(a_in) << ACT_SHIFT)
    u = lava_wrap(u)
    if p.rule is not None and not p.rule.is_default:
        return _rule_step(u, state.v, p)
    v = decay(state.v, p.dv) + u + p.bias
    v = saturate(v)
    spikes = v > (int64(p.vth, like=v) << VTH_SHIFT)
    v = where(spikes, 0, v)
    return int64(spikes), LIFIntState(u, v)


def drive_exponent(fixed) -> np.ndarray:
    """A drive value is worth ``2**E_v``: the voltage unit before Lava's shift by 6."""
    return fixed.state_exp + VTH_SHIFT


def _rule_step(u: np.ndarray, v: np.ndarray, p: LIFIntParams) -> tuple[np.ndarray, LIFIntState]:
    rule = p.rule
    thr = int64(p.vth, like=v) << VTH_SHIFT
    s_prev = int_spikes(v, thr, rule)
    if rule.reset_at != "late":
        v = reset_int(v, s_prev, thr, rule)
    v = saturate(decay(v, p.dv) + u + p.bias)
    if rule.reset_at != "now":
        v = saturate(reset_int(v, s_prev, thr, rule))
    s = int_spikes(v, thr, rule)
    return (s_prev if rule.delay else s), LIFIntState(u, v)
