"""Post-training quantisation of a :class:`~modspike.network.Network` onto the Loihi-style grid.

:func:`quantize` returns the network's fixed-point twin: the same structure with every ``fixed``
slot filled (weight mantissas and exponents, each cell kind's integer parameters) and the float
weights (and LIF biases) snapped onto the grid, i.e. what the standard fields of an exported NIR
file hold. Each kind quantises its own parameters (``CellKind.quant``); the synaptic shifts are
derived from the exponents when the network is compiled (:mod:`modspike.step`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .errors import QuantizationError
from .fixedpoint import SRCFormat, WeightFormat, check_finite, round_half_up
from .network import FixedWeights, Network, Synapse
from .registry import require


def quantize_synapse(
    synapse: Synapse, fmt: WeightFormat, input_exponent: int, name: str
) -> FixedWeights:
    """``q = round_half_up(w / 2**e)`` with the synapse kind's exponents (one per output row or
    channel, or one per layer), clipped to the symmetric ``fmt.bits``-bit range."""
    w = np.asarray(synapse.weight, dtype=np.float64)
    check_finite(name, w)
    e = np.asarray(synapse.kind.weight_exponents(w, fmt), dtype=np.int64)
    scale = np.exp2(e.astype(np.float64)).reshape((-1,) + (1,) * (w.ndim - 1))
    q = np.clip(round_half_up(w / scale), -fmt.qmax, fmt.qmax)
    return FixedWeights(q, e, input_exponent)


def snapped(synapse: Synapse, fixed: FixedWeights, bias: np.ndarray | None) -> Synapse:
    """The synapse with its float weights (and bias) replaced by their grid values."""
    return replace(synapse, weight=fixed.dequantize(), bias=bias, fixed=fixed)


def quantize(
    net: Network,
    fmt: WeightFormat | None = None,
    sfmt: SRCFormat | None = None,
    input_exponent: int = 0,
) -> Network:
    """The fixed-point twin of ``net``. ``input_exponent``: the unit of the integer input, 0 for
    0/1 spikes, ``-frac_bits`` for a graded input such as an observation in the SRC format."""
    fmt, sfmt = fmt or WeightFormat(), sfmt or SRCFormat()
    in_exp = int(input_exponent)
    layers = []
    for layer in net.layers:
        kind = layer.cell.kind
        arith = require(kind, "fixed", f"cannot quantise layer {layer.name}")
        quant = require(kind, "quant", f"cannot quantise layer {layer.name}")
        syn = quantize_synapse(layer.synapse, fmt, in_exp, "synapse weights")
        out_exp = quant.out_exponent(sfmt)
        rec = None
        if layer.recurrent is not None:
            rec = quantize_synapse(layer.recurrent, fmt, out_exp, "recurrent weights")
        fixed = quant.quantize(layer.cell, syn, rec, layer.synapse.bias, fmt, sfmt)
        if fixed.out_exp != out_exp:
            raise QuantizationError(f"{kind.name}: the quantiser's output unit is inconsistent")
        bias = None
        if layer.synapse.bias is not None:
            bias = fixed.input_bias * np.exp2(arith.drive_exponent(fixed).astype(np.float64))
        recurrent = None
        if layer.recurrent is not None:
            rec_bias = layer.recurrent.bias
            if rec_bias is not None and np.any(rec_bias != 0):
                raise QuantizationError(f"{layer.name}: a recurrent bias has no fixed-point form")
            recurrent = snapped(layer.recurrent, rec, None)
        layers.append(
            replace(
                layer,
                synapse=snapped(layer.synapse, syn, bias),
                recurrent=recurrent,
                cell=replace(layer.cell, fixed=fixed),
            )
        )
        in_exp = fixed.out_exp
    readout = net.readout
    if readout is not None:
        if readout.synapse.bias is not None and np.any(readout.synapse.bias != 0):
            raise QuantizationError("a readout bias has no fixed-point form")
        ro = quantize_synapse(readout.synapse, fmt, in_exp, "readout weights")
        readout = replace(readout, synapse=snapped(readout.synapse, ro, None))
    return replace(
        net,
        layers=tuple(layers),
        readout=readout,
        input_exponent=int(input_exponent),
        weight_format=fmt,
    )
