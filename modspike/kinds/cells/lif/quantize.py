"""LIF / CubaLIF quantisation onto Lava's bit-accurate model (docs/fixed-point.md §3).

The voltage unit is ``2**(E_v - 6)`` with ``E_v`` the smallest exponent among the incoming
weights (in input units), so every Dense ``weight_exp`` is a left shift (exact in Lava) and
``vth = threshold / 2**E_v``; a synapse bias is put on the same grid (``bias / 2**E_v``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from modspike.errors import QuantizationError
from modspike.fixedpoint import (
    BIAS_MANT_MAX,
    DECAY_MAX,
    DECAY_UNITY,
    VTH_MAX,
    VTH_SHIFT,
    check_finite,
    round_half_up,
)
from modspike.network import FixedCell
from modspike.validate import check_fixed_point_fields

from ...values import int_array, per_neuron
from .int_step import LIFIntParams
from .rule import SpikeRule, custom


def lif_decays(beta: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(du, dv)`` for membrane decay ``beta`` and synaptic decay ``alpha`` (None: no current state).

    Lava decays u by ``du + 1`` and v by ``dv``: ``dv = 4096 - round(4096 beta)`` and
    ``du = 4095 - round(4096 alpha)`` (``alpha=None`` gives ``du = 4095``: u = this step's input).
    """
    beta = np.asarray(beta, dtype=np.float64)
    check_finite("LIF decay", beta)
    dv = DECAY_UNITY - round_half_up(DECAY_UNITY * beta)
    if alpha is None:
        du = np.full_like(dv, DECAY_MAX)
    else:
        alpha = np.asarray(alpha, dtype=np.float64)
        check_finite("LIF synaptic decay", alpha)
        du = DECAY_MAX - round_half_up(DECAY_UNITY * alpha)
    if np.any((dv < 0) | (dv > DECAY_MAX) | (du < 0) | (du > DECAY_MAX)):
        raise QuantizationError("LIF decays must lie in [0, 1): du and dv are unsigned 12-bit")
    return du, dv


def _plain_dynamics(cell) -> None:
    """Lava's LIF has no input gain, no leak and resets to 0: refuse what it cannot run."""
    p = cell.params
    for name, want in (("gain", 1.0), ("leak", 0.0), ("v_reset", 0.0)):
        values = getattr(p, name, None)
        if values is not None and np.any(np.asarray(values) != want):
            raise QuantizationError(
                f"a {cell.kind.name} layer with {name} != {want:g} has no Lava LIF mapping"
            )
    for name in ("gain_syn",):
        values = getattr(p, name, None)
        if values is not None and np.any(np.asarray(values) != 1.0):
            raise QuantizationError(
                f"a {cell.kind.name} layer with {name} != 1 has no Lava LIF mapping"
            )


def unit_gain(cell):
    """``(scale, cell)``: the factor every synaptic input of the layer is multiplied by (``gain``,
    times ``gain_syn`` for a current-based cell), and the cell with that factor set to 1. The
    quantiser moves it into the weights and the bias (an imported Norse or Sinabs layer has a
    gain below 1; Lava's LIF has none). None when the gain is 1 already."""
    p = cell.params
    n = cell.n
    scale = per_neuron(p.gain, n, "gain")
    changes = {"gain": np.ones(n)}
    if getattr(p, "gain_syn", None) is not None:
        scale = scale * per_neuron(p.gain_syn, n, "gain_syn")
        changes["gain_syn"] = np.ones(n)
    if np.all(scale == 1.0):
        return None, cell
    return scale, replace(cell, params=p._replace(**changes))


def quantize(cell, synapse, recurrent, synapse_bias, fmt, sfmt=None) -> FixedCell:
    return quantize_rule(cell, synapse, recurrent, synapse_bias, fmt, custom(cell.constants))


def lava_vth(thr: np.ndarray, e_v: np.ndarray, label: str) -> np.ndarray:
    """Thresholds ``thr`` (>= 0: Lava's vth is unsigned) in weight steps ``2**e_v``."""
    if np.any(thr < 0):
        raise QuantizationError(f"{label} thresholds must be >= 0 (Lava's vth is unsigned)")
    return round_half_up(thr / np.exp2(e_v))


def check_vth_fits(vth: np.ndarray, thr: np.ndarray, fmt) -> None:
    """Every threshold within Lava's 17-bit vth."""
    if np.any(vth > VTH_MAX):
        raise QuantizationError(
            f"threshold {thr.max():g} is {int(vth.max())} weight steps: more than Lava's 17-bit vth"
            f" ({VTH_MAX}); the weights are too small for this threshold at {fmt.bits} bits"
        )


def lava_bias(synapse_bias, n: int, e_v: np.ndarray) -> np.ndarray:
    """The synapse bias on the voltage grid (weight steps ``2**e_v``), within Lava's 13-bit bias;
    zeros without one."""
    b = np.zeros(n, dtype=np.int64)
    if synapse_bias is not None:
        b = round_half_up(per_neuron(synapse_bias, n, "bias") / np.exp2(e_v))
        if np.any(np.abs(b) > BIAS_MANT_MAX):
            raise QuantizationError(
                f"bias of {int(np.abs(b).max())} weight steps does not fit Lava's 13-bit bias"
            )
    return b


def quantize_rule(cell, synapse, recurrent, synapse_bias, fmt, rule: SpikeRule | None):
    """:func:`quantize` with the layer's spike rule (None: Lava's LIF)."""
    _plain_dynamics(cell)
    n = cell.n
    e_in = synapse.neuron_exponent(n) + synapse.input_exponent  # per channel -> per neuron
    e_v = e_in if recurrent is None else np.minimum(e_in, recurrent.exponent)
    thr = per_neuron(cell.params.threshold, n, "threshold")
    vth = lava_vth(thr, e_v, "LIF")
    if rule is not None and rule.fire == "count" and np.any(vth < 1):
        raise QuantizationError(
            f"a {cell.kind.name} layer counting spikes needs thresholds of at least one weight step"
        )
    check_vth_fits(vth, thr, fmt)
    b = lava_bias(synapse_bias, n, e_v)
    alpha = getattr(cell.params, "alpha", None)
    du, dv = lif_decays(
        per_neuron(cell.params.beta, n, "beta"),
        None if alpha is None else per_neuron(alpha, n, "alpha"),
    )
    params = LIFIntParams(du, dv, vth.astype(np.int64), np.zeros(n, dtype=np.int64), rule)
    return FixedCell(params, b, (e_v - VTH_SHIFT).astype(np.int64), 0)


def out_exponent(sfmt=None) -> int:
    return 0


def to_dict(fixed: FixedCell) -> dict:
    p = fixed.params
    out = {
        "du": p.du,
        "dv": p.dv,
        "vth": p.vth,
        "bias_v": p.bias,
        "bias_a": fixed.input_bias,
        "state_exp": fixed.state_exp,
    }
    if p.rule is not None and not p.rule.is_default:
        out["rule"] = p.rule.to_dict()
    return out


FIELDS = ("du", "dv", "vth", "bias_v", "bias_a", "state_exp")


def from_dict(d: dict, n: int) -> FixedCell:
    check_fixed_point_fields(d, FIELDS, n)
    state_exp = int_array(d, "state_exp", n, -200, 200)
    params = LIFIntParams(
        int_array(d, "du", n, 0, DECAY_MAX),
        int_array(d, "dv", n, 0, DECAY_MAX),
        int_array(d, "vth", n, 0, VTH_MAX),
        int_array(d, "bias_v", n, -(1 << 23), 1 << 23),
        SpikeRule.from_dict(d["rule"], "fixed_point.rule") if "rule" in d else None,
    )
    bias = int_array(d, "bias_a", n, -BIAS_MANT_MAX, BIAS_MANT_MAX)
    return FixedCell(params, bias, state_exp, 0)
