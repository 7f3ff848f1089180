"""SRC integer dynamics: the fixed-point twin of :mod:`.float_step` (docs/fixed-point.md §4).

States carry ``frac_bits`` fractional bits in saturating ``state_bits`` registers; tanh, the input
squash and the slow gate are piecewise-linear tables; every product is rounded half up.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from modspike.arrays import any_nonzero, clip
from modspike.fixedpoint import PWLTable, mul_frac, saturate


class SRCIntParams(NamedTuple):
    """Integer SRC constants: products ``c*x`` are ``shift_round(c_q * x, frac_bits)``."""

    frac_bits: int
    state_bits: int
    alpha: np.ndarray  # input-synapse leak, in state units
    r: np.ndarray
    rs: np.ndarray
    z: np.ndarray
    bias: np.ndarray  # b_h (after its clamp), per neuron
    squash: PWLTable | None  # rho*tanh(i/rho); None feeds i straight in
    gate: PWLTable  # z_s(h)
    tanh: PWLTable


class SRCIntState(NamedTuple):
    i: np.ndarray
    h: np.ndarray
    hs: np.ndarray


def initial_state(batch: int, n: int) -> SRCIntState:
    z = np.zeros((batch, n), dtype=np.int64)
    return SRCIntState(z, z.copy(), z.copy())


def step(a_in: np.ndarray, state: SRCIntState, p: SRCIntParams) -> tuple[np.ndarray, SRCIntState]:
    """Integer twin of the float step: ``(graded output max(h, 0), state)``.

    The order follows the float reference: the slow gate and the slow state use ``h[t-1]``.
    Numpy arrays or torch int64 tensors (:mod:`modspike.arrays`).
    """
    F, bits = p.frac_bits, p.state_bits
    i = saturate(mul_frac(p.alpha, state.i, F) + a_in, bits)
    x = i if p.squash is None else p.squash(i)
    zs = p.gate(state.h)
    pre = saturate(x + mul_frac(p.r, state.h, F) + mul_frac(p.rs, state.hs, F) + p.bias, bits)
    h = p.tanh(pre)
    if any_nonzero(p.z):
        h = h + mul_frac(p.z, state.h - h, F)
    hs = state.h + mul_frac(zs, state.hs - state.h, F)
    return clip(h, 0, None), SRCIntState(i, h, hs)


def drive_exponent(fixed) -> np.ndarray:
    """One drive value is one state unit, ``2**-frac_bits``."""
    return fixed.state_exp
