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
from .network import FixedWeights, Layer, Network, Synapse
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


def merge_recurrent_bias(layer: Layer) -> Layer:
    """A recurrent bias is a constant input every step (snntorch's RLeaky adds it from the
    first step on): moved into the forward synapse's bias, where the integer model has a place."""
    rec = layer.recurrent
    if rec is None or rec.bias is None or not np.any(rec.bias != 0):
        return layer
    if rec.bias.shape != (layer.synapse.n_out,) or not layer.cell.kind.synapse_bias:
        raise QuantizationError(f"{layer.name}: a recurrent bias has no fixed-point form")
    bias = rec.bias if layer.synapse.bias is None else layer.synapse.bias + rec.bias
    return replace(
        layer, synapse=replace(layer.synapse, bias=bias), recurrent=replace(rec, bias=None)
    )


def fold_gain(layer: Layer, quant) -> Layer:
    """``layer`` with its cell's input gain moved into the incoming weights and bias (the kind's
    ``unit_gain``): the same dynamics, and the integer model has no gain to represent."""
    if quant.unit_gain is None:
        return layer
    scale, cell = quant.unit_gain(layer.cell)
    if scale is None:
        return layer
    scale = np.asarray(scale, dtype=np.float64)

    def scaled(syn: Synapse | None) -> Synapse | None:
        if syn is None:
            return None
        rows = syn.weight.shape[0]
        per_row = scale.reshape(rows, -1) if scale.size % rows == 0 else None
        if rows == scale.size * layer.cell.kind.in_multiplicity:
            factor = np.repeat(scale, layer.cell.kind.in_multiplicity)
        elif per_row is not None and np.all(per_row == per_row[:, :1]):
            factor = per_row[:, 0]  # one gain per output channel (neurons laid out C, H, W)
        else:
            raise QuantizationError(
                f"{layer.name}: per-neuron input gains cannot be moved into {syn.kind.name} weights"
            )
        weight = syn.weight * factor.reshape((-1,) + (1,) * (syn.weight.ndim - 1))
        bias = None if syn.bias is None else syn.bias * factor
        return replace(syn, weight=weight, bias=bias)

    return replace(
        layer, synapse=scaled(layer.synapse), recurrent=scaled(layer.recurrent), cell=cell
    )


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
        layer = fold_gain(merge_recurrent_bias(layer), quant)
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
