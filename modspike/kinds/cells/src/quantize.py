"""SRC quantisation: float parameters and constants -> integer parameters and tables, and their
plain-dictionary form in NIR metadata (``docs/nir-extensions.md``). The table helpers are shared
by the whole SRC family."""

from __future__ import annotations

import numpy as np

from modspike.errors import QuantizationError
from modspike.fixedpoint import (
    SRCFormat,
    slow_gate_table,
    squash_table,
    table_from_dict,
    tanh_table,
)
from modspike.network import FixedCell
from modspike.validate import check_fixed_point_fields, check_src_format

from ...values import int_array, per_neuron
from .int_step import SRCIntParams

FIELDS = ("alpha", "r", "rs", "z", "bias")


def tables(constants, sfmt: SRCFormat):
    """``(squash or None, gate, tanh)`` for an SRC-family layer's constants."""
    rho = constants.rho
    squash = None if rho is None else squash_table(float(rho), sfmt)
    gate = slow_gate_table(
        float(constants.zs_hyp),
        float(constants.zs_dep),
        float(constants.zs_slope),
        float(constants.zs_mid),
        sfmt,
    )
    return squash, gate, tanh_table(sfmt)


def fixed_constants(constants, names, n: int, sfmt: SRCFormat) -> dict:
    """Per-neuron constants in state units (``sfmt.to_fixed``)."""
    return {k: sfmt.to_fixed(per_neuron(getattr(constants, k), n, k)) for k in names}


def graded_cell(params, sfmt: SRCFormat, n: int) -> FixedCell:
    """An SRC-family FixedCell: no input bias (the cell has its own), states and graded output in
    ``2**-frac_bits`` units."""
    f = sfmt.frac_bits
    return FixedCell(params, np.zeros(n, np.int64), np.full(n, -f, np.int64), -f)


def out_exponent(sfmt: SRCFormat) -> int:
    return -sfmt.frac_bits


def quantize(cell, synapse, recurrent, synapse_bias, fmt, sfmt: SRCFormat) -> FixedCell:
    """The integer SRC: the clamped bias and the constants in state units, the tables."""
    n = cell.n
    c = cell.constants
    bh = per_neuron(cell.params.bh, n, "b_h")
    if c.bh_max is not None:
        bh = np.minimum(bh, float(c.bh_max))
    squash, gate, tanh = tables(c, sfmt)
    params = SRCIntParams(
        frac_bits=sfmt.frac_bits,
        state_bits=sfmt.state_bits,
        **fixed_constants(c, ("alpha", "r", "rs", "z"), n, sfmt),
        bias=sfmt.to_fixed(bh),
        squash=squash,
        gate=gate,
        tanh=tanh,
    )
    return graded_cell(params, sfmt, n)


def tables_to_dict(p) -> dict:
    out = {
        "frac_bits": int(p.frac_bits),
        "state_bits": int(p.state_bits),
        "tables": {"gate": p.gate.to_dict(), "tanh": p.tanh.to_dict()},
    }
    if p.squash is not None:
        out["tables"]["squash"] = p.squash.to_dict()
    return out


def tables_from_dict(d: dict):
    """``(sfmt, squash or None, gate, tanh)`` from the dictionary form, validated."""
    check_src_format(d)
    try:
        sfmt = SRCFormat(frac_bits=int(d["frac_bits"]), state_bits=int(d["state_bits"]))
        found = d["tables"]
        gate, tanh = table_from_dict(found["gate"]), table_from_dict(found["tanh"])
        squash = table_from_dict(found["squash"]) if "squash" in found else None
    except (KeyError, TypeError, ValueError) as exc:
        raise QuantizationError(f"malformed SRC fixed-point parameters ({exc!r})") from None
    return sfmt, squash, gate, tanh


def to_dict(fixed: FixedCell) -> dict:
    p = fixed.params
    return {**tables_to_dict(p), **{name: getattr(p, name) for name in FIELDS}}


def from_dict(d: dict, n: int) -> FixedCell:
    check_fixed_point_fields(d, FIELDS, n)
    sfmt, squash, gate, tanh = tables_from_dict(d)
    lim = 1 << (sfmt.state_bits - 1)
    fields = {k: int_array(d, k, n, -lim, lim) for k in FIELDS}
    params = SRCIntParams(
        sfmt.frac_bits, sfmt.state_bits, squash=squash, gate=gate, tanh=tanh, **fields
    )
    return graded_cell(params, sfmt, n)
