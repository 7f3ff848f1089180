"""IF quantisation onto the LIF family's grid (docs/fixed-point.md §3): the voltage unit is
``2**(E_v - 6)`` with ``E_v`` the smallest exponent among the incoming weights (in input units),
``vth = threshold / 2**E_v`` and a synapse bias on the same grid."""

from __future__ import annotations

import numpy as np

from modspike.errors import QuantizationError
from modspike.fixedpoint import BIAS_MANT_MAX, VTH_MAX, VTH_SHIFT
from modspike.network import FixedCell
from modspike.validate import check_fixed_point_fields

from ...values import int_array, per_neuron
from ..lif.quantize import check_vth_fits, lava_bias, lava_vth
from ..lif.rule import custom
from .int_step import IFIntParams


def quantize(cell, synapse, recurrent, synapse_bias, fmt, sfmt=None) -> FixedCell:
    n = cell.n
    p = cell.params
    if custom(cell.constants) is not None:
        raise QuantizationError(
            "an if layer with another tool's spike rule has no fixed-point model; run it with"
            " --backend torch (its float dynamics)"
        )
    for name, want in (("gain", 1.0), ("v_reset", 0.0)):
        if np.any(per_neuron(getattr(p, name), n, name) != want):
            raise QuantizationError(
                f"an if layer with {name} != {want:g} has no fixed-point model (Lava's LIF has no"
                " input gain and resets to 0)"
            )
    e_in = synapse.exponent + synapse.input_exponent
    e_v = e_in if recurrent is None else np.minimum(e_in, recurrent.exponent)
    thr = per_neuron(p.threshold, n, "threshold")
    vth = lava_vth(thr, e_v, "IF")
    check_vth_fits(vth, thr, fmt)
    b = lava_bias(synapse_bias, n, e_v)
    params = IFIntParams(vth.astype(np.int64), np.zeros(n, dtype=np.int64))
    state_exp = (np.zeros(n, dtype=np.int64) + e_v - VTH_SHIFT).astype(np.int64)
    return FixedCell(params, b.astype(np.int64), state_exp, 0)


def out_exponent(sfmt=None) -> int:
    return 0


FIELDS = ("vth", "bias_v", "bias_a", "state_exp")


def to_dict(fixed: FixedCell) -> dict:
    p = fixed.params
    return {
        "vth": p.vth,
        "bias_v": p.bias,
        "bias_a": fixed.input_bias,
        "state_exp": fixed.state_exp,
    }


def from_dict(d: dict, n: int) -> FixedCell:
    check_fixed_point_fields(d, FIELDS, n)
    state_exp = int_array(d, "state_exp", n, -200, 200)
    params = IFIntParams(
        int_array(d, "vth", n, 0, VTH_MAX), int_array(d, "bias_v", n, -(1 << 23), 1 << 23)
    )
    bias = int_array(d, "bias_a", n, -BIAS_MANT_MAX, BIAS_MANT_MAX)
    return FixedCell(params, bias, state_exp, 0)
