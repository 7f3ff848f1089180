"""IF integer dynamics: Lava's bit-accurate LIF (``PyLifModelBitAcc``) with ``du = 4095`` (the
current holds only this step's input) and ``dv = 0`` (no leak), keeping only ``v``.

``u = wrap24(a << 6)``, ``v = sat24(v + u + bias)``, a spike where ``v > vth << 6``, then
``v = 0``: step for step what ``lif.int_step.step`` gives with those decays (tested), so the
threshold and the input share the LIF family's units (docs/fixed-point.md §3).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from modspike.fixedpoint import ACT_SHIFT, VTH_SHIFT, lava_wrap, saturate


class IFIntParams(NamedTuple):
    """Integer IF parameters, per neuron."""

    vth: np.ndarray  # threshold mantissa, 0..131071; compared with v as vth << 6
    bias: np.ndarray  # added to v unshifted (Lava's bias_mant << bias_exp; 0 in modspike exports)


class IFIntState(NamedTuple):
    v: np.ndarray


def initial_state(batch: int, n: int) -> IFIntState:
    return IFIntState(np.zeros((batch, n), dtype=np.int64))


def step(a_in: np.ndarray, state: IFIntState, p: IFIntParams) -> tuple[np.ndarray, IFIntState]:
    """One step on a batch: ``(spikes 0/1, state)``; ``a_in`` is the weight-scaled drive."""
    u = lava_wrap(np.left_shift(np.asarray(a_in, dtype=np.int64), ACT_SHIFT))
    v = saturate(state.v + u + p.bias)
    spikes = v > np.left_shift(np.asarray(p.vth, dtype=np.int64), VTH_SHIFT)
    return spikes.astype(np.int64), IFIntState(np.where(spikes, 0, v))


def drive_exponent(fixed) -> np.ndarray:
    """A drive value is worth ``2**E_v``: the voltage unit before the shift by 6 (as LIF)."""
    return fixed.state_exp + VTH_SHIFT
