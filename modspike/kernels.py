"""Scalar integer helpers for the compiled (numba) twins of the kinds' integer steps.

Each function is the one-element form of a vectorised helper of :mod:`modspike.fixedpoint`, with
the same int64 semantics (two's-complement wrap on overflow, arithmetic right shift), so a kernel
built from them computes what the numpy step computes, value for value. The kernels themselves
live next to the step they twin (``modspike/kinds/cells/<kind>/int_kernel.py``);
``tests/test_compiled.py`` runs every kind that has one against its numpy step.

This module imports numba; it is itself imported only when a compiled step is bound
(:mod:`modspike.compiled`), so the package starts without it.
"""

from __future__ import annotations

import numba
import numpy as np

from .fixedpoint import DECAY_SHIFT, DECAY_UNITY, PWLTable

JIT = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}
"""Options of every kernel: cached on disk (compiled once per machine), releasing the GIL (the
simulator runs pieces of a batch on threads), numpy's error model (no ZeroDivision checks)."""


def jit(fn):
    """``numba.njit`` with :data:`JIT`; where numba cannot cache (code without a source file) the
    kernel is compiled once per process instead."""
    try:
        return numba.njit(**JIT)(fn)
    except RuntimeError:
        return numba.njit(**{**JIT, "cache": False})(fn)


@jit
def shift_round(x: int, k: int) -> int:
    """``fixedpoint.shift_round`` for one value and one shift: round half up for ``k > 0``."""
    if k > 0:
        half = np.int64(1) << (k - 1)
        return (x + half) >> (k if k < 62 else 62)
    if -k > 62:
        return x << 62
    return x << -k


@jit
def mul_frac(c: int, x: int, frac: int) -> int:
    return shift_round(c * x, frac)


@jit
def saturate(x: int, bits: int) -> int:
    limit = (np.int64(1) << (bits - 1)) - 1
    return min(max(x, -limit), limit)


@jit
def lava_wrap(x: int, bits: int) -> int:
    """``fixedpoint.lava_wrap``: the second test reads ``y`` but adds to ``x``, as there."""
    half = np.int64(1) << (bits - 1)
    y = x - 2 * half if x > half else x
    if y <= -half:
        return x + 2 * half
    return y


@jit
def decay(x: int, d: int) -> int:
    """``fixedpoint.decay``: ``sign(p) * (|p| >> 12)`` with ``p = x * (4096 - d)``."""
    p = x * (DECAY_UNITY - d)
    if p > 0:
        return p >> DECAY_SHIFT
    if p < 0:
        return -((-p) >> DECAY_SHIFT)
    return np.int64(0)


@jit
def lookup(x: int, x_min: int, shift: int, span: int, values, full: bool) -> int:
    """``PWLTable.__call__`` at one point, the table given by :func:`table_args`: expanded (one
    value per point of its domain, ``full``) it is indexed, otherwise interpolated as there."""
    t = min(max(x - x_min, 0), span)
    if full:
        return np.int64(values[t])
    last = values.shape[0] - 1
    idx = min(t >> shift, last - 1)
    y0 = np.int64(values[idx])
    return y0 + shift_round((np.int64(values[idx + 1]) - y0) * (t - (idx << shift)), shift)


FULL_TABLE_POINTS = 1 << 18
"""A table whose domain has at most this many points is expanded (int16 or int32 values: at most
512 KB or 1 MB, which stay in the cache), a lookup instead of an interpolation."""

_TABLES: dict[int, tuple[PWLTable, tuple]] = {}


def table_args(table: PWLTable | None) -> tuple:
    """``(x_min, step_shift, span, values, full)`` of a table for :func:`lookup`; ``None`` (no
    table) gives empty ``values``, which a kernel tests for. The expansion evaluates the table
    itself on every point of its domain (identical by construction), once per table."""
    if table is None:
        return 0, 0, 0, np.zeros(0, np.int64), False
    held = _TABLES.get(id(table))
    if held is not None and held[0] is table:
        return held[1]
    x_min, shift = int(table.x_min), int(table.step_shift)
    span = int(table.segments) << shift
    args = (x_min, shift, span, np.ascontiguousarray(table.values, np.int64), False)
    if span + 1 <= FULL_TABLE_POINTS:
        values = table(np.arange(x_min, x_min + span + 1, dtype=np.int64))
        peak = int(np.abs(values).max(initial=0))
        dtype = np.int16 if peak < 1 << 15 else np.int32 if peak < 1 << 31 else None
        if dtype is not None:
            args = (x_min, shift, span, np.ascontiguousarray(values, dtype), True)
    if len(_TABLES) > 256:
        _TABLES.clear()
    _TABLES[id(table)] = (table, args)
    return args


_VIEWS: dict[tuple[int, tuple[int, int]], tuple[np.ndarray, np.ndarray]] = {}


def per_neuron(value, shape: tuple[int, int]) -> np.ndarray:
    """A per-neuron (or per-sample-and-neuron, when modulated) int64 parameter as a ``(batch,
    n)`` view; every parameter then has one array type, so each kernel compiles once. The views
    of a layer's constant parameters are made once per batch shape."""
    if isinstance(value, np.ndarray) and value.shape == shape and value.dtype == np.int64:
        return value
    key = (id(value), shape)
    held = _VIEWS.get(key)
    if held is not None and held[0] is value:
        return held[1]
    view = np.broadcast_to(np.asarray(value, dtype=np.int64), shape)
    if isinstance(value, np.ndarray) and not value.flags.writeable:  # a network's constant
        if len(_VIEWS) > 4096:
            _VIEWS.clear()
        _VIEWS[key] = (value, view)
    return view


@jit
def scale(x: int, shift_left: int) -> int:
    """``fixedpoint.apply_exponent`` for one value: ``x * 2**shift_left``, rounding half up, the
    shift clipped to 62 bits as in ``shift_round``'s per-row form."""
    if shift_left < 0:
        right = min(-shift_left, 62)
        return (x + (np.int64(1) << (right - 1))) >> right
    return x << min(shift_left, 62)


@jit
def drive(acc, shift, bias, rec, rec_shift, has_bias, has_rec):
    """``from_accumulators`` of a FIXED layer (``modspike.step.fixed_layer``) in one pass: the
    synaptic sum scaled to the drive's unit, plus the input bias, plus the scaled recurrent sum.
    ``shift``, ``bias``, ``rec_shift`` are ``(batch, n)`` views (:func:`per_neuron`)."""
    batch, n = acc.shape
    out = np.empty((batch, n), np.int64)
    for b in range(batch):
        for j in range(n):
            a = scale(acc[b, j], shift[b, j])
            if has_bias:
                a = a + bias[b, j]
            if has_rec:
                a = a + scale(rec[b, j], rec_shift[b, j])
            out[b, j] = a
    return out


@jit
def as_float32(x):
    """``(x as float32, max |x|)`` in one pass over an integer matrix (the float32 GEMM's input;
    the magnitude decides whether it is exact)."""
    batch, n = x.shape
    out = np.empty((batch, n), np.float32)
    top = 0
    for b in range(batch):
        for j in range(n):
            v = np.int64(x[b, j])
            top = max(top, v if v >= 0 else -v)
            out[b, j] = v
    return out, top


@jit
def count(s, totals, events):
    """The simulator's running sums of one step: ``totals += s``, ``events += s != 0``."""
    batch, n = s.shape
    for b in range(batch):
        for j in range(n):
            v = s[b, j]
            totals[b, j] += v
            if v != 0:
                events[b, j] += 1
