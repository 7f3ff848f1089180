"""The dense accumulation of the simulator: float32 GEMMs that are exact by construction.

A float32 GEMM is exact while every product and every partial sum is an integer below 2**24 in
magnitude (spec nir-lava.md §6). Any partial sum of row ``i`` is bounded by ``max|x| * sum_j
|m_ij|``, so with ``L = max_i sum_j |m_ij|`` an input whose values stay within ``cap = (2**24 -
1) // L`` is accumulated in one float32 GEMM (spikes: always). A wider input (graded outputs) is
cut into base-``2**b`` digits (``2**b - 1 <= cap``): ``x = lo + 2**b * rest``, ``lo = x & (2**b
- 1)`` in ``[0, 2**b)``, and ``x @ m.T = lo @ m.T + (rest @ m.T) << b``, recursively, each GEMM
exact. ``tests/test_compiled.py`` checks it against :func:`modspike.fixedpoint.int_matmul` on
inputs up to 2**40. Float32 GEMMs run three times faster than the float64 ones of the reference
on this machine kind (AVX-512, one thread).
"""

from __future__ import annotations

import numpy as np

from modspike.fixedpoint import int_matmul

EXACT = (1 << 24) - 1  # the largest integer magnitude every float32 partial sum may reach


def bind(mantissa: np.ndarray, attrs):
    """``accumulate(x)`` for this mantissa, equal to :func:`.int.accumulate` value for value."""
    m = np.asarray(mantissa, dtype=np.int64)
    weights = np.ascontiguousarray(m.T, dtype=np.float32)  # exact: |m| < 2**24
    l1 = int(np.abs(m).sum(axis=1).max(initial=0))
    cap = EXACT // l1 if l1 else None
    digit = 0 if not cap else (cap + 1).bit_length() - 1  # the widest b with 2**b - 1 <= cap

    def gemm(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) @ weights).astype(np.int64)

    def gemm_checked(x: np.ndarray) -> np.ndarray | None:
        """One GEMM when ``x`` fits (converted and measured in one pass), else None."""
        if x.dtype.kind not in "iub" or x.ndim != 2:
            return gemm(x) if _magnitude(x) <= cap else None
        from modspike.kernels import as_float32

        xf, top = as_float32(x)
        return (xf @ weights).astype(np.int64) if top <= cap else None

    def split(x: np.ndarray) -> np.ndarray:
        if _magnitude(x) <= cap:  # shrinks at every level: |x >> b| < |x| once |x| >= 2
            return gemm(x)
        return gemm(x & ((1 << digit) - 1)) + (split(x >> digit) << digit)

    def accumulate(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        if cap is None:  # all-zero weights
            return np.zeros((x.shape[0], m.shape[0]), np.int64)
        acc = gemm_checked(x)
        if acc is not None:
            return acc
        if digit == 0:  # a fan-in too large for float32 even with 1-bit digits
            return int_matmul(x, m)
        return split(np.asarray(x, dtype=np.int64))

    return accumulate


def _magnitude(x: np.ndarray) -> int:
    return max(int(x.max(initial=0)), -int(x.min(initial=0)))
