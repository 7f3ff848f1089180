"""mSRC / BSRC quantisation (the SRC family's tables, plus ``h_s0`` and the ultraslow term)."""

from __future__ import annotations

from modspike.fixedpoint import SRCFormat
from modspike.network import FixedCell
from modspike.validate import check_fixed_point_fields

from ...values import int_array, per_neuron
from ..src.quantize import fixed_constants, graded_cell, tables, tables_from_dict, tables_to_dict
from .int_step import MSRCIntParams

FIELDS = ("alpha", "r", "rs", "zu", "bias", "hs0")


def quantize(cell, synapse, recurrent, synapse_bias, fmt, sfmt: SRCFormat) -> FixedCell:
    n = cell.n
    c = cell.constants
    squash, gate, tanh = tables(c, sfmt)
    params = MSRCIntParams(
        frac_bits=sfmt.frac_bits,
        state_bits=sfmt.state_bits,
        **fixed_constants(c, ("alpha", "r", "rs", "zu"), n, sfmt),
        ru=None if c.ru is None else sfmt.to_fixed(per_neuron(c.ru, n, "ru")),
        bias=sfmt.to_fixed(per_neuron(cell.params.b, n, "b")),
        hs0=sfmt.to_fixed(per_neuron(cell.params.hs0, n, "h_s0")),
        squash=squash,
        gate=gate,
        tanh=tanh,
    )
    return graded_cell(params, sfmt, n)


def to_dict(fixed: FixedCell) -> dict:
    p = fixed.params
    out = {**tables_to_dict(p), **{name: getattr(p, name) for name in FIELDS}}
    if p.ru is not None:
        out["ru"] = p.ru
    return out


def from_dict(d: dict, n: int) -> FixedCell:
    check_fixed_point_fields(d, (*FIELDS, "ru"), n)
    sfmt, squash, gate, tanh = tables_from_dict(d)
    lim = 1 << (sfmt.state_bits - 1)
    fields = {k: int_array(d, k, n, -lim, lim) for k in FIELDS}
    ru = int_array(d, "ru", n, -lim, lim) if "ru" in d else None
    params = MSRCIntParams(
        sfmt.frac_bits, sfmt.state_bits, ru=ru, squash=squash, gate=gate, tanh=tanh, **fields
    )
    return graded_cell(params, sfmt, n)
