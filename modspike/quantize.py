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


def quantize_stages(
    synapse: Synapse, fmt: WeightFormat, input_exponent: int
) -> tuple[tuple[Synapse, ...], int]:
    """The ``pre`` stages of a synapse on the grid, and the unit of what reaches its weights.

    Each stage (pooling: a fixed kernel of ``2**e``) is exact with mantissa 1 and one exponent,
    which becomes part of the next stage's input unit: the integer sums flow on unscaled."""
    stages, unit = [], int(input_exponent)
    for k, stage in enumerate(synapse.pre):
        if stage.bias is not None:
            raise QuantizationError("a synapse stage with a bias has no fixed-point form")
        fixed = quantize_synapse(stage, fmt, unit, f"synapse stage {k}")
        if (
            not np.array_equal(fixed.dequantize(), stage.weight)
            or np.unique(fixed.exponent).size > 1
        ):
            raise QuantizationError(
                f"synapse stage {k} ({stage.kind.name}) is not exact on the grid: only fixed"
                " power-of-two kernels (pooling) can sit between a neuron layer and a synapse"
            )
        stages.append(replace(stage, fixed=fixed))
        unit += int(fixed.exponent[0]) if fixed.exponent.size else 0
    return tuple(stages), unit


def per_neuron_bias(bias: np.ndarray | None, n: int) -> np.ndarray | None:
    """A convolution's bias (one per channel) repeated over each channel's neurons."""
    if bias is None or bias.shape[0] == n:
        return bias
    if n % bias.shape[0]:
        raise QuantizationError(f"{bias.shape[0]} bias values cannot cover {n} neurons")
    return np.repeat(bias, n // bias.shape[0])


def per_channel(values: np.ndarray, channels: int, what: str) -> np.ndarray:
    """The inverse of :func:`per_neuron_bias`: one value per channel (all neurons agree)."""
    if values.shape[0] == channels:
        return values
    grid = values.reshape(channels, -1)
    if np.any(grid != grid[:, :1]):
        raise QuantizationError(f"{what} differs between the neurons of one channel")
    return grid[:, 0].copy()


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
        pre, unit = quantize_stages(layer.synapse, fmt, in_exp)
        syn = quantize_synapse(layer.synapse, fmt, unit, "synapse weights")
        out_exp = quant.out_exponent(sfmt)
        rec = None
        if layer.recurrent is not None:
            rec = quantize_synapse(layer.recurrent, fmt, out_exp, "recurrent weights")
        syn_bias = per_neuron_bias(layer.synapse.bias, layer.n * kind.in_multiplicity)
        fixed = quant.quantize(layer.cell, syn, rec, syn_bias, fmt, sfmt)
        if fixed.out_exp != out_exp:
            raise QuantizationError(f"{kind.name}: the quantiser's output unit is inconsistent")
        bias = None
        if layer.synapse.bias is not None:
            bias = fixed.input_bias * np.exp2(arith.drive_exponent(fixed).astype(np.float64))
            bias = per_channel(bias, layer.synapse.bias.shape[0], f"{layer.name}: the bias")
        recurrent = None
        if layer.recurrent is not None:
            rec_bias = layer.recurrent.bias
            if rec_bias is not None and np.any(rec_bias != 0):
                raise QuantizationError(f"{layer.name}: a recurrent bias has no fixed-point form")
            recurrent = snapped(layer.recurrent, rec, None)
        layers.append(
            replace(
                layer,
                synapse=replace(snapped(layer.synapse, syn, bias), pre=pre),
                recurrent=recurrent,
                cell=replace(layer.cell, fixed=fixed),
            )
        )
        in_exp = fixed.out_exp
    readout = net.readout
    if readout is not None:
        if readout.synapse.bias is not None and np.any(readout.synapse.bias != 0):
            raise QuantizationError("a readout bias has no fixed-point form")
        pre, unit = quantize_stages(readout.synapse, fmt, in_exp)
        ro = quantize_synapse(readout.synapse, fmt, unit, "readout weights")
        readout = replace(readout, synapse=replace(snapped(readout.synapse, ro, None), pre=pre))
    return replace(
        net,
        layers=tuple(layers),
        readout=readout,
        input_exponent=int(input_exponent),
        weight_format=fmt,
    )
