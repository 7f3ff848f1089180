"""Checked conversions of per-neuron values, shared by the kinds' quantisers and readers."""

from __future__ import annotations

import numpy as np

from modspike.errors import ConfigError, QuantizationError


def per_neuron(value, n: int, name: str) -> np.ndarray:
    """``value`` (a scalar or n values) as n finite float64 values."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise QuantizationError(f"{name}: not numeric") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise QuantizationError(f"{name}: expected {n} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise QuantizationError(f"{name} contains NaN or Inf values; cannot quantise")
    return arr


def int_array(d: dict, key: str, n: int, lo: int | None = None, hi: int | None = None):
    """``d[key]`` as n int64 values in ``[lo, hi]`` (1 value broadcasts); typed errors otherwise."""
    if key not in d:
        raise QuantizationError(f"fixed-point parameters lack {key!r}")
    raw = np.asarray(d[key])
    if raw.dtype.kind not in "iuf" or raw.size not in (1, n):
        raise QuantizationError(f"fixed-point parameter {key!r} must hold 1 or {n} integers")
    if raw.dtype.kind == "f" and not (
        np.all(np.isfinite(raw))
        and np.array_equal(raw, np.rint(raw))
        and np.all(np.abs(raw) < 2**62)
    ):
        raise QuantizationError(f"fixed-point parameter {key!r} must hold integers")
    arr = np.broadcast_to(raw.astype(np.int64).reshape(-1), (n,)).copy()
    if (lo is not None and np.any(arr < lo)) or (hi is not None and np.any(arr > hi)):
        raise QuantizationError(f"fixed-point parameter {key!r} is outside [{lo}, {hi}]")
    return arr


def finite_constant(value, name: str, lo: float | None = None, hi: float | None = None) -> float:
    """A cell constant from a config: a finite real number in ``[lo, hi]`` (ConfigError else)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"cell option {name!r} must be a number, got {value!r}")
    number = float(value)
    if (
        not np.isfinite(number)
        or (lo is not None and number < lo)
        or (hi is not None and number > hi)
    ):
        bounds = f" in [{lo}, {hi}]" if hi is not None else f" >= {lo}" if lo is not None else ""
        raise ConfigError(f"cell option {name!r} must be a finite number{bounds}, got {value!r}")
    return number
