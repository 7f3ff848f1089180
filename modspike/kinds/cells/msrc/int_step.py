"""mSRC / BSRC integer dynamics: the fixed-point twin of :mod:`.float_step`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from modspike.arrays import clip
from modspike.fixedpoint import PWLTable, mul_frac, saturate, shift_round


class MSRCIntParams(NamedTuple):
    frac_bits: int
    state_bits: int
    alpha: np.ndarray
    r: np.ndarray
    rs: np.ndarray
    ru: np.ndarray | None  # ultraslow feedback (BSRC); None disables it
    zu: np.ndarray
    bias: np.ndarray  # b, per neuron
    hs0: np.ndarray  # vertex of the quadratic slow feedback, per neuron
    squash: PWLTable | None
    gate: PWLTable
    tanh: PWLTable


class MSRCIntState(NamedTuple):
    i: np.ndarray
    h: np.ndarray
    hs: np.ndarray
    hu: np.ndarray


def initial_state(batch: int, n: int) -> MSRCIntState:
    z = np.zeros((batch, n), dtype=np.int64)
    return MSRCIntState(z, z.copy(), z.copy(), z.copy())


def step(
    a_in: np.ndarray, state: MSRCIntState, p: MSRCIntParams
) -> tuple[np.ndarray, MSRCIntState]:
    """Integer twin of the float step (mSRC, and BSRC when ``p.ru`` is set); numpy arrays or
    torch int64 tensors (:mod:`modspike.arrays`)."""
    F, bits = p.frac_bits, p.state_bits
    i = saturate(mul_frac(p.alpha, state.i, F) + a_in, bits)
    x = i if p.squash is None else p.squash(i)
    zs = p.gate(state.h)
    q = saturate(state.hs + p.hs0, bits)
    pre = x + mul_frac(p.r, state.h, F) + mul_frac(p.rs, shift_round(q * q, F), F) + p.bias
    hu = state.hu
    if p.ru is not None:
        pre = pre + mul_frac(p.ru, state.hu, F)
        hu = state.h + mul_frac(p.zu, state.hu - state.h, F)
    h = p.tanh(saturate(pre, bits))
    hs = state.h + mul_frac(zs, state.hs - state.h, F)
    return clip(h, 0, None), MSRCIntState(i, h, hs, hu)
