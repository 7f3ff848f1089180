"""The one fixed-point format of modspike (``docs/fixed-point.md``): numbers, rounding, weights
on the grid and lookup tables. Each cell kind's integer arithmetic is built on these
(``modspike/kinds/cells/*/int_step.py``).

Everything here works on numpy integer arrays (int64 holds every intermediate product), vectorised
over a batch: states have shape ``(batch, neurons)``, per-neuron parameters ``(neurons,)``.

* Weights: signed ``bits``-bit mantissas ``q`` with a power-of-two scale ``2**e``, one exponent per
  layer (Loihi's ``weight_exp``) or one per output neuron. ``w ~ q * 2**e``.
* Lava's LIF format: 12-bit decays ``du``/``dv``, 24-bit ``u`` (wraps) and ``v`` (saturates),
  threshold ``vth << 6`` (the constants below; the step is the LIF kind's).
* SRC format: states with ``frac_bits`` fractional bits in 24-bit saturating registers; tanh, the
  input squash and the slow gate as piecewise-linear tables; every product rounded half up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import arrays
from .errors import QuantizationError

FORMAT_VERSION = "modspike-fxp/1"
"""Written into every export; a reader refuses a format it does not know."""

GRANULARITIES = ("layer", "neuron")
MIN_WEIGHT_BITS, MAX_WEIGHT_BITS = 2, 8

# Lava / Loihi LIF constants (lava/proc/lif/models.py, AbstractPyLifModelFixed)
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT  # 4096
DECAY_MAX = DECAY_UNITY - 1  # du, dv are unsigned 12-bit
ACT_SHIFT = 6  # synaptic input is left-shifted by 6 before it enters u
VTH_SHIFT = 6  # so is the threshold
VTH_MAX = (1 << 17) - 1  # vth: unsigned 17-bit
BIAS_MANT_MAX = (1 << 12) - 1  # bias mantissa: signed 13-bit
STATE_BITS = 24  # u, v (and every SRC state register)
STATE_MAX = (1 << (STATE_BITS - 1)) - 1


# --------------------------------------------------------------------------- rounding


def shift_round(x: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """``x * 2**-shift`` as an integer: round half up for ``shift > 0``, exact for ``shift <= 0``.

    ``shift`` may be an array that broadcasts against ``x`` (one shift per neuron). Round half up
    (``floor(x/2**s + 1/2)``) is the rule everywhere in this format: floor shifts bias every product
    downwards and cost a lot of fidelity in the SRC (cells.md 3.10).
    """
    x = arrays.int64(x)  # numpy or torch (modspike.arrays): the same operators on either
    if isinstance(shift, (int, np.integer)):  # fast path (the common case): one shift for all
        k = int(shift)
        if k > 0:
            return (x + (1 << (k - 1))) >> min(k, 62)
        return x << min(-k, 62)
    s = arrays.int64(shift, like=x)
    right = arrays.clip(s, 0, 62)
    left = arrays.clip(-s, 0, 62)
    half = arrays.where(right > 0, arrays.int64(1, like=x) << arrays.clip(right - 1, 0, 62), 0)
    return arrays.where(s > 0, (x + half) >> right, x << left)


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """``floor(x + 1/2)`` as int64 (floats to integers, the same rule as :func:`shift_round`)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def saturate(x: np.ndarray, bits: int = STATE_BITS) -> np.ndarray:
    """Clip to the symmetric signed range of ``bits`` bits, ``+-(2**(bits-1) - 1)``."""
    limit = (1 << (bits - 1)) - 1
    return arrays.clip(x, -limit, limit)


def lava_wrap(x: np.ndarray, bits: int = STATE_BITS) -> np.ndarray:
    """Lava's 24-bit wrap of the current ``u``: ``> 2**23`` loses ``2**24``, ``<= -2**23`` gains it."""
    half = 1 << (bits - 1)
    y = arrays.where(x > half, x - 2 * half, x)
    return arrays.where(y <= -half, x + 2 * half, y)


def decay(x: np.ndarray, d: np.ndarray | int) -> np.ndarray:
    """Lava's decay ``sign(x*(4096-d)) * (|x*(4096-d)| >> 12)``: truncation toward zero."""
    x = arrays.int64(x)
    prod = x * (DECAY_UNITY - arrays.int64(d, like=x))
    return arrays.sign(prod) * (abs(prod) >> DECAY_SHIFT)


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class WeightFormat:
    """How weights are put on the grid: mantissa width and exponent granularity."""

    bits: int = 8
    granularity: str = "layer"  # one exponent per layer, or "neuron": one per output neuron

    def __post_init__(self):
        if not (isinstance(self.bits, int) and MIN_WEIGHT_BITS <= self.bits <= MAX_WEIGHT_BITS):
            raise QuantizationError(
                f"weight bits must be an integer from {MIN_WEIGHT_BITS} to {MAX_WEIGHT_BITS}"
                f" (Loihi 2 stores at most 8-bit mantissas), got {self.bits!r}"
            )
        if self.granularity not in GRANULARITIES:
            raise QuantizationError(
                f"granularity must be one of {', '.join(GRANULARITIES)}, got {self.granularity!r}"
            )

    @property
    def qmax(self) -> int:
        """Largest mantissa magnitude: the grid is symmetric, ``[-qmax, qmax]``."""
        return (1 << (self.bits - 1)) - 1


@dataclass(frozen=True)
class QuantizedWeights:
    """``mantissa * 2**exponent[:, None]``; ``mantissa`` (n_out, n_in) int64, ``exponent`` (n_out,)."""

    mantissa: np.ndarray
    exponent: np.ndarray
    fmt: WeightFormat

    def dequantize(self) -> np.ndarray:
        """The float64 weights on the grid (exact: a small integer times a power of two)."""
        return self.mantissa.astype(np.float64) * np.exp2(self.exponent.astype(np.float64))[:, None]


def check_finite(name: str, *arrays: np.ndarray) -> None:
    """Raise :class:`QuantizationError` when an array holds NaN or Inf."""
    for a in arrays:
        if a is not None and not np.all(np.isfinite(a)):
            raise QuantizationError(f"{name} contains NaN or Inf values; cannot quantise")


def weight_exponents(w: np.ndarray, fmt: WeightFormat) -> np.ndarray:
    """The smallest exponent per row (or one shared) with ``max|w| / 2**e <= qmax``.

    An all-zero row (or layer) gets exponent 0.
    """
    w = np.asarray(w, dtype=np.float64)
    mags = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0])
    if fmt.granularity == "layer":
        mags = np.full(w.shape[0], mags.max() if mags.size else 0.0)
    e = np.zeros(w.shape[0], dtype=np.int64)
    nz = mags > 0
    e[nz] = np.ceil(np.log2(mags[nz] / fmt.qmax)).astype(np.int64)
    # log2 can be off by one ulp: correct in both directions with exact power-of-two tests
    too_small = nz & (mags / np.exp2(e) > fmt.qmax)
    e[too_small] += 1
    can_lower = nz & (mags / np.exp2(e - 1) <= fmt.qmax)
    e[can_lower] -= 1
    return e


def quantize_weights(w: np.ndarray, fmt: WeightFormat, name: str = "weights") -> QuantizedWeights:
    """Put a float matrix (n_out, n_in) on the grid: ``q = round_half_up(w / 2**e)``."""
    w = np.asarray(w, dtype=np.float64)
    check_finite(name, w)
    if w.ndim != 2:
        raise QuantizationError(f"{name} must be a matrix, got shape {w.shape}")
    e = weight_exponents(w, fmt)
    q = round_half_up(w / np.exp2(e)[:, None])
    return QuantizedWeights(np.clip(q, -fmt.qmax, fmt.qmax), e, fmt)


def weights_from_grid(
    w: np.ndarray, exponent: np.ndarray, fmt: WeightFormat, name: str = "weights"
) -> QuantizedWeights:
    """Recover mantissas from float weights that claim to lie on the grid (an imported file).

    Raises :class:`QuantizationError` when a value is not an integer multiple of its scale or does
    not fit ``fmt.bits``.
    """
    w = np.asarray(w, dtype=np.float64)
    check_finite(name, w)
    try:
        raw = np.asarray(exponent, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise QuantizationError(f"{name}: weight exponents are not numbers") from None
    if w.ndim != 2 or raw.shape[0] not in (1, w.shape[0]):
        raise QuantizationError(
            f"{name}: {raw.shape[0]} exponents for a weight matrix of shape {w.shape}"
        )
    if not np.all(np.isfinite(raw)) or np.any(np.abs(raw) > 126) or np.any(raw != np.rint(raw)):
        raise QuantizationError(f"{name}: weight exponents must be integers in [-126, 126]")
    exponent = np.broadcast_to(raw.astype(np.int64), (w.shape[0],)).copy()
    scaled = w / np.exp2(exponent)[:, None]
    q = np.rint(scaled)
    if not np.array_equal(q, scaled):
        raise QuantizationError(f"{name}: values are not on the declared {fmt.bits}-bit grid")
    if np.any(np.abs(q) > fmt.qmax):
        raise QuantizationError(
            f"{name}: mantissas up to {int(np.abs(q).max())} do not fit {fmt.bits} bits"
            f" (at most {fmt.qmax})"
        )
    return QuantizedWeights(q.astype(np.int64), exponent, fmt)


def apply_exponent(acc: np.ndarray, shift_left: np.ndarray | int) -> np.ndarray:
    """Scale an integer accumulation by ``2**shift_left`` (a Dense ``weight_exp``), rounding half up.

    One integer shift for all rows takes :func:`shift_round`'s fast path (the same rounding)."""
    if isinstance(shift_left, (int, np.integer)):
        return shift_round(acc, -int(shift_left))
    return shift_round(acc, -arrays.int64(shift_left, like=acc))


def int_matmul(x: np.ndarray, mantissa: np.ndarray) -> np.ndarray:
    """``x @ mantissa.T`` exactly, for integer ``x`` (batch, n_in) and mantissas (n_out, n_in).

    Uses a float64 GEMM when every partial sum provably stays below 2**53 (then float arithmetic is
    exact), integer arithmetic otherwise.
    """
    if arrays.is_tensor(x):  # torch int64 (sim-torch): the same rule; a GPU has no int64 GEMM
        m = arrays.int64(mantissa, like=x)
        bound = float(x.abs().max()) * float(m.abs().max()) if x.numel() and m.numel() else 0.0
        if bound * max(m.shape[1], 1) < 2.0**53:
            return (x.double() @ m.double().T).long()
        return (x.cpu() @ m.cpu().T).to(x.device)
    x = np.asarray(x, dtype=np.int64)
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(mantissa).max(initial=0))
    if bound * max(mantissa.shape[1], 1) < 2.0**53:
        return (x.astype(np.float64) @ mantissa.T.astype(np.float64)).astype(np.int64)
    return x @ mantissa.T.astype(np.int64)


# --------------------------------------------------------------------------- tables (SRC family)


@dataclass(frozen=True)
class PWLTable:
    """A piecewise-linear function on ``[x_min, x_min + segments * 2**step_shift]`` (integer units).

    ``values`` (segments + 1 integers) are the function at the breakpoints; between them the value is
    interpolated, ``y0 + round_half_up((y1 - y0) * frac / 2**step_shift)``; outside the range it is
    held at the end values. With 512 segments the tanh error stays below half an LSB at 12
    fractional bits (a plain 256-entry lookup is ~50x coarser).
    """

    x_min: int
    step_shift: int
    values: np.ndarray

    @property
    def segments(self) -> int:
        return len(self.values) - 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        span = self.segments << self.step_shift
        t = arrays.clip(arrays.int64(x) - self.x_min, 0, span)
        idx = arrays.clip(t >> self.step_shift, None, self.segments - 1)
        frac = t - (idx << self.step_shift)
        y0 = arrays.take(self.values, idx)
        dy = arrays.take(self.values, idx + 1) - y0
        return y0 + shift_round(dy * frac, int(self.step_shift))

    def to_dict(self) -> dict:
        return {"x_min": int(self.x_min), "step_shift": int(self.step_shift), "values": self.values}


def build_table(
    fn: Callable[[np.ndarray], np.ndarray], half_range: float, frac_bits: int, segments: int
) -> PWLTable:
    """Tabulate ``fn`` on ``[-R, R]`` with ``R = half_range`` (a power of two) at ``frac_bits``."""
    step_exp = math.log2(2 * half_range / segments)
    if step_exp != int(step_exp) or segments & (segments - 1):
        raise QuantizationError("table range and segment count must be powers of two")
    step_shift = frac_bits + int(step_exp)
    if step_shift < 0:
        raise QuantizationError(
            f"{frac_bits} fractional bits cannot index a {segments}-segment table on"
            f" [-{half_range}, {half_range}]"
        )
    xs = -half_range + np.arange(segments + 1) * (2 * half_range / segments)
    values = round_half_up(fn(xs) * (1 << frac_bits))
    return PWLTable(-int(round(half_range * (1 << frac_bits))), step_shift, values)


def table_from_dict(d: dict) -> PWLTable:
    values = np.asarray(d["values"]).astype(np.int64).reshape(-1)
    if len(values) < 2 or len(values) - 1 & (len(values) - 2):
        raise QuantizationError("a table needs 2**k + 1 values")
    shift = int(d["step_shift"])
    if not 0 <= shift < 48:
        raise QuantizationError("table step_shift out of range")
    return PWLTable(int(d["x_min"]), shift, values)


@dataclass(frozen=True)
class SRCFormat:
    """Integer format of the SRC-family states."""

    frac_bits: int = 12
    state_bits: int = STATE_BITS
    segments: int = 512

    def __post_init__(self):
        if not 7 <= self.frac_bits <= 16 or not 16 <= self.state_bits <= 32:
            raise QuantizationError("SRC format: frac_bits must be 7..16, state_bits 16..32")
        if self.segments < 2 or self.segments & (self.segments - 1):
            raise QuantizationError("SRC format: segments must be a power of two")

    @property
    def one(self) -> int:
        return 1 << self.frac_bits

    def to_fixed(self, x: np.ndarray | float) -> np.ndarray:
        """A float constant or array in state units, rounded half up."""
        check_finite("SRC parameter", np.asarray(x, dtype=np.float64))
        return round_half_up(np.asarray(x, dtype=np.float64) * self.one)


TANH_HALF_RANGE = 8.0  # tanh is flat to 1e-7 beyond |x| = 8
GATE_HALF_RANGE = 1.0  # h = tanh(...) never leaves [-1, 1]


def squash_half_range(rho: float) -> float:
    """Table range of ``rho*tanh(i/rho)``: the power of two at or above ``5 rho``, beyond which the
    function is within ``2.7e-4 rho`` of its limit."""
    return float(2 ** math.ceil(math.log2(5.0 * rho)))


def tanh_table(fmt: SRCFormat) -> PWLTable:
    return build_table(np.tanh, TANH_HALF_RANGE, fmt.frac_bits, fmt.segments)


def squash_table(rho: float, fmt: SRCFormat) -> PWLTable:
    """``x = rho * tanh(i / rho)``, the bounded input drive (cells.md 3.2, eq. 2)."""
    return build_table(
        lambda i: rho * np.tanh(i / rho), squash_half_range(rho), fmt.frac_bits, fmt.segments
    )


def slow_gate_table(zs_hyp: float, zs_dep: float, slope: float, mid: float, fmt: SRCFormat):
    """``z_s(h) = zs_hyp - (zs_hyp - zs_dep) * sigmoid(slope (h - mid))`` over h in [-1, 1]."""

    def gate(h):
        return zs_hyp - (zs_hyp - zs_dep) / (1.0 + np.exp(-slope * (h - mid)))

    return build_table(gate, GATE_HALF_RANGE, fmt.frac_bits, fmt.segments)


# --------------------------------------------------------------------------- products


def mul_frac(c: np.ndarray, x: np.ndarray, frac_bits: int) -> np.ndarray:
    """``c * x`` for a constant ``c`` with ``frac_bits`` fractional bits, rounded half up."""
    return shift_round(arrays.int64(c, like=x) * x, frac_bits)
