"""Multi-spike quantisation: the LIF family's registers (Lava's ``u``, ``v``, ``du``, ``dv``,
``vth << 6``) with the spike-count rule; the integer step is ``lif.int_step`` under that rule."""

from __future__ import annotations

from dataclasses import replace

from modspike.network import FixedCell

from ..lif import quantize as lif
from ..lif.rule import MULTISPIKE

out_exponent = lif.out_exponent
to_dict = lif.to_dict
unit_gain = lif.unit_gain


def quantize(cell, synapse, recurrent, synapse_bias, fmt, sfmt=None) -> FixedCell:
    return lif.quantize_rule(cell, synapse, recurrent, synapse_bias, fmt, MULTISPIKE)


def from_dict(d: dict, n: int) -> FixedCell:
    fixed = lif.from_dict(d, n)
    return replace(fixed, params=fixed.params._replace(rule=MULTISPIKE))
