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


@numba.njit(inline="always")
def mul_frac_half(c: int, x: int, frac: int, half: int) -> int:
    """:func:`mul_frac` with the rounding constant precomputed (``half = 2**(frac-1)``, 0 for
    ``frac == 0``; ``0 <= frac <= 62``): branch-free, so a loop of it vectorises."""
    return (c * x + half) >> frac


def rounding_half(frac: int) -> int:
    """``half`` of :func:`mul_frac_half` for a product's ``frac`` (checked: 0..62)."""
    if not 0 <= frac <= 62:
        raise ValueError(f"a product's fractional bits must be 0..62, not {frac}")
    return (1 << (frac - 1)) if frac > 0 else 0


@numba.njit(inline="always")
def table_index(x: int, x_min: int, span: int) -> int:
    """A table's offset for ``x``: ``x - x_min`` held to ``[0, span]`` (the end values beyond)."""
    return min(max(x - x_min, 0), span)


@jit
def lookup(x: int, x_min: int, shift: int, span: int, values, full: bool) -> int:
    """``PWLTable.__call__`` at one point, the table given by :func:`table_args`: expanded (one
    value per point of its domain, ``full``) it is indexed, otherwise interpolated as there."""
    t = table_index(x, x_min, span)
    if full:
        return np.int64(values[t])
    last = values.shape[0] - 1
    idx = min(t >> shift, last - 1)
    y0 = np.int64(values[idx])
    return y0 + shift_round((np.int64(values[idx + 1]) - y0) * (t - (idx << shift)), shift)


@numba.njit(inline="always")
def lookup_row(xs, out, x_min: int, shift: int, span: int, values, full: bool) -> None:
    """``out[j] = lookup(xs[j], ...)`` over a row; an expanded table is indexed in a loop of its
    own, free of :func:`lookup`'s branches."""
    if full:
        for j in range(xs.shape[0]):
            out[j] = values[table_index(xs[j], x_min, span)]
    else:
        for j in range(xs.shape[0]):
            out[j] = lookup(xs[j], x_min, shift, span, values, False)


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


BLOCK = 512
"""Elements per block of a staged kernel: its loops run over this many values (whole rows of
neurons), long enough that a vectorised loop's set-up is paid rarely, short enough that the
block's scratch arrays stay in the L1 cache."""

_BLOCKS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def block_rows(n: int) -> int:
    """Elements per block for rows of ``n`` neurons: the most whole rows within :data:`BLOCK`."""
    return max(1, BLOCK // n) * n


def per_block(value, batch: int, n: int) -> np.ndarray:
    """A per-neuron (or per-sample-and-neuron, when modulated) int64 parameter, flat, for a
    staged kernel's :func:`block_of`: one block of rows (a constant, tiled to
    :func:`block_rows`) or every sample's row (``batch * n`` values). A network's constants
    (read-only arrays) are tiled once."""
    if isinstance(value, np.ndarray) and value.dtype == np.int64 and value.shape == (batch, n):
        return np.ascontiguousarray(value).reshape(-1)
    size = block_rows(n)
    key = (id(value), size)
    held = _BLOCKS.get(key)
    if held is not None and held[0] is value:
        return held[1]
    full = np.broadcast_to(np.asarray(value, dtype=np.int64), (batch, n))
    if full.strides[0] != 0:  # one row per sample (a modulation)
        return np.ascontiguousarray(full).reshape(-1)
    tiled = np.tile(full[0], size // n)
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        if len(_BLOCKS) > 4096:
            _BLOCKS.clear()
        _BLOCKS[key] = (value, tiled)
    return tiled


@numba.njit(inline="always")
def block_of(values, k0: int, m: int, total: int):
    """The ``m`` values of a :func:`per_block` array for the block at flat index ``k0`` of
    ``total``: every sample's (a modulation) or the tiled constant's first ``m``."""
    return values[k0 : k0 + m] if values.shape[0] == total else values[:m]


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


def shift_parts(shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fixedpoint.apply_exponent``'s per-row shifts as ``(left, right, half)`` for
    :func:`scale`: a left shift, or a right shift rounding half up, each clipped to 62 bits."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.clip(shift, 0, 62)
    right = np.clip(-shift, 0, 62)
    half = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0).astype(np.int64)
    return left, right, half


@numba.njit(inline="always")
def scale(x: int, left: int, right: int, half: int) -> int:
    """``fixedpoint.apply_exponent`` for one value, the shift given by :func:`shift_parts`:
    ``(x << left + half) >> right``, one of the two shifts being 0; branch-free."""
    return ((x << left) + half) >> right


@jit
def drive(acc, shift, bias, rec, rec_shift, has_bias, has_rec):
    """``from_accumulators`` of a FIXED layer (``modspike.step.fixed_layer``): the synaptic sum
    scaled to the drive's unit, plus the input bias, plus the scaled recurrent sum. ``shift``
    and ``rec_shift`` are :func:`shift_parts` tuples and ``bias`` an array, one value per
    neuron; ``acc`` and ``rec`` are int64, or float holding integers exactly (a GEMM's result,
    converted here)."""
    batch, n = acc.shape
    left, right, half = shift
    r_left, r_right, r_half = rec_shift
    out = np.empty((batch, n), np.int64)
    for b in range(batch):
        ab, ob = acc[b], out[b]
        for j in range(n):
            ob[j] = scale(np.int64(ab[j]), left[j], right[j], half[j])
        if has_bias:
            for j in range(n):
                ob[j] += bias[j]
        if has_rec:
            rb = rec[b]
            for j in range(n):
                ob[j] += scale(np.int64(rb[j]), r_left[j], r_right[j], r_half[j])
    return out


@jit
def as_float(x, out):
    """``out[...] = x`` (an integer matrix into a float32 or float64 one) and ``max |x|``, in
    one pass: a GEMM's input, whose magnitude decides whether that GEMM is exact."""
    batch, n = x.shape
    top = 0
    for b in range(batch):
        for j in range(n):
            v = np.int64(x[b, j])
            top = max(top, v if v >= 0 else -v)
            out[b, j] = v
    return top


@jit
def int8_digits(x, lo, hi):
    """``x = lo + 128 * hi`` with ``lo = x & 127`` in ``[0, 128)`` and ``hi = x >> 7`` (int8
    where ``|x| < 2**14``), in one pass over an integer matrix; returns ``(max |x|, any hi !=
    0)``: an int8 GEMM's inputs, and whether the second digit is needed."""
    batch, n = x.shape
    top = 0
    high = np.int64(0)
    for b in range(batch):
        for j in range(n):
            v = np.int64(x[b, j])
            top = max(top, v if v >= 0 else -v)
            lo[b, j] = v & 127
            hi[b, j] = v >> 7
            high |= v >> 7
    return top, high != 0


@jit
def join_digits(lo, hi):
    """``lo + (hi << 7)`` as int64: the two digits' int32 sums put back together."""
    batch, n = lo.shape
    out = np.empty((batch, n), np.int64)
    for b in range(batch):
        for j in range(n):
            out[b, j] = np.int64(lo[b, j]) + (np.int64(hi[b, j]) << 7)
    return out


@jit
def count(s, totals, events):
    """The simulator's running sums of one step: ``totals += s``, ``events += s != 0`` (flat:
    the three arrays are C-contiguous and of one shape)."""
    s, totals, events = s.reshape(-1), totals.reshape(-1), events.reshape(-1)
    for k in range(s.shape[0]):
        totals[k] += s[k]
        events[k] += s[k] != 0
