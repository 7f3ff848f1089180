"""The dense accumulation of the simulator: int8 and float GEMMs that are exact by construction.

Where the mantissas fit int8 (8-bit weights) the sums are int8 GEMMs with int32 accumulators
(``torch._int_mm``: AMX / VNNI, about five times a float32 GEMM's speed on this machine kind):
the input is cut into two base-128 digits, ``x = lo + 128 * hi`` (spikes and event counts below
128 need only ``lo``), each digit's sum is exact while ``128 * L < 2**31`` (``L`` below), and the
two are joined in int64. Inputs of ``2**14`` and more, wider mantissas, or a torch without the
operation take the float GEMMs:

A float GEMM is exact while every product and every partial sum is an integer within its
mantissa: below 2**24 in magnitude for float32 (spec nir-lava.md §6), 2**53 for float64. Any
partial sum of row ``i`` is bounded by ``max|x| * sum_j |m_ij|``, so with ``L = max_i sum_j
|m_ij|`` an input whose values stay within ``cap = (2**24 - 1) // L`` is accumulated in one
float32 GEMM (spikes: always), and one within ``(2**53 - 1) // L`` in one float64 GEMM (graded
outputs: a float64 GEMM costs about two float32 ones, less than cutting the input into digits).
A still wider input is cut into base-``2**b`` digits (``2**b - 1 <= cap``): ``x = lo + 2**b *
rest``, ``lo = x & (2**b - 1)`` in ``[0, 2**b)``, and ``x @ m.T = lo @ m.T + (rest @ m.T) <<
b``, recursively, each GEMM exact. ``tests/test_compiled.py`` checks every path against
:func:`modspike.fixedpoint.int_matmul`, on inputs up to 2**40.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from modspike.fixedpoint import int_matmul

EXACT = (1 << 24) - 1  # the largest integer magnitude every float32 partial sum may reach
EXACT64 = (1 << 53) - 1  # the same for float64
ACC32 = (1 << 31) - 1  # an int8 GEMM's int32 accumulator
DIGITS8 = 1 << 14  # inputs below this are two int8 digits


@lru_cache(maxsize=1)
def int8_matmul():
    """``(torch._int_mm, torch.from_numpy)`` (int8 x int8 -> int32, exact) where this torch has
    the operation and it passes a small exact check, else None; checked once per process."""
    try:
        import torch

        mm = torch._int_mm
        rng = np.random.default_rng(0)
        a = rng.integers(-128, 128, (5, 33)).astype(np.int8)
        b = rng.integers(-128, 128, (33, 3)).astype(np.int8)
        got = mm(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    except Exception:  # noqa: BLE001 - any failure: the float GEMMs serve
        return None
    return (
        (mm, torch.from_numpy)
        if np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64))
        else None
    )


def bind(mantissa: np.ndarray, attrs):
    """``accumulate(x)`` for this mantissa, equal to :func:`.int.accumulate` value for value: an
    int64 or int32 array, or a float32 or float64 one whose values are those integers exactly
    (the simulator's drive converts it in the pass it makes anyway)."""
    m = np.asarray(mantissa, dtype=np.int64)
    weights = np.ascontiguousarray(m.T, dtype=np.float32)  # exact: |m| < 2**24
    weights64 = np.ascontiguousarray(m.T, dtype=np.float64)
    l1 = int(np.abs(m).sum(axis=1).max(initial=0))
    cap = EXACT // l1 if l1 else None
    cap64 = EXACT64 // l1 if l1 else None
    digit = 0 if not cap else (cap + 1).bit_length() - 1  # the widest b with 2**b - 1 <= cap
    wide = [False]  # the last input needed float64: convert the next one straight to it
    int8 = None
    if l1 and np.abs(m).max(initial=0) <= 127 and 128 * l1 <= ACC32:
        int8 = int8_matmul()
    if int8 is not None:
        mm, tensor = int8
        weights8 = tensor(np.ascontiguousarray(m.T, dtype=np.int8))

    def gemm_int8(x: np.ndarray) -> np.ndarray | None:
        """The sums from int8 GEMMs (int32 from one digit, int64 from two), or None when
        ``x`` has values of ``2**14`` or more."""
        from modspike.kernels import int8_digits, join_digits

        lo = np.empty(x.shape, np.int8)
        hi = np.empty(x.shape, np.int8)
        top, high = int8_digits(x, lo, hi)
        if top >= DIGITS8:
            return None
        acc = mm(tensor(lo), weights8).numpy()
        return join_digits(acc, mm(tensor(hi), weights8).numpy()) if high else acc

    def gemm(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) @ weights).astype(np.int64)

    def gemm_checked(x: np.ndarray) -> np.ndarray | None:
        """The sums from int8 GEMMs, or from one float32 or float64 GEMM, when ``x`` fits
        (converted and measured in one pass), else None."""
        if x.dtype.kind not in "iub" or x.ndim != 2:
            return gemm(x) if _magnitude(x) <= cap else None
        if int8 is not None:
            acc = gemm_int8(x)
            if acc is not None:
                return acc
        from modspike.kernels import as_float

        if not wide[0]:
            xf = np.empty(x.shape, np.float32)
            top = as_float(x, xf)
            if top <= cap:
                return xf @ weights
        xf = np.empty(x.shape, np.float64)
        top = as_float(x, xf)
        wide[0] = top > cap
        return xf @ weights64 if top <= cap64 else None

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
