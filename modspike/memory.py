"""The one memory model of a deployed network, read by ``modspike inspect`` and the cost report.

Per layer: ``synapses * weight_bits + neurons * (state_words * state_bits + param_bits) +
shared_bits``, with the cell kind's figures (``CellKind.memory``): 24-bit state registers for a
quantised network (the deployed format, docs/fixed-point.md), 32-bit floats otherwise. The readout
stores its weights and one state word per output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .fixedpoint import STATE_BITS
from .network import Layer, Network
from .registry import require

FLOAT_BITS = 32


@dataclass(frozen=True)
class Footprint:
    """Memory of one layer (or the readout): counts and the total in bits and bytes."""

    neurons: int
    synapses: int
    weight_bits: int
    state_bits: int
    state_words: int
    param_bits: int
    shared_bits: int

    @property
    def bits(self) -> int:
        per_neuron = self.state_words * self.state_bits + self.param_bits
        return self.synapses * self.weight_bits + self.neurons * per_neuron + self.shared_bits

    @property
    def bytes(self) -> int:
        return math.ceil(self.bits / 8)


def widths(net: Network) -> tuple[int, int]:
    """``(weight bits, state bits)`` of the deployed form of ``net``."""
    if net.quantized:
        return net.weight_format.bits, STATE_BITS
    return FLOAT_BITS, FLOAT_BITS


def synapse_count(layer: Layer) -> int:
    """Stored weights: a convolution's kernel once (shared over positions), a pooling stage's
    fixed kernel, the recurrent matrix."""
    rec = 0 if layer.recurrent is None else int(np.asarray(layer.recurrent.weight).size)
    return stored_weights(layer.synapse) + rec


def stored_weights(synapse) -> int:
    """Weights a (composite) synapse stores: its own and those of its ``pre`` stages."""
    return int(np.asarray(synapse.weight).size) + sum(stored_weights(s) for s in synapse.pre)


def layer_footprint(layer: Layer, net: Network) -> Footprint:
    figures = require(layer.cell.kind, "memory", f"layer {layer.name}")
    weight_bits, state_bits = widths(net)
    return Footprint(
        neurons=layer.n,
        synapses=synapse_count(layer),
        weight_bits=weight_bits,
        state_bits=state_bits,
        state_words=figures.state_words,
        param_bits=figures.param_bits,
        shared_bits=figures.shared_bits,
    )


def readout_footprint(net: Network) -> Footprint | None:
    if net.readout is None:
        return None
    weight_bits, state_bits = widths(net)
    return Footprint(
        neurons=net.readout.n_out,
        synapses=stored_weights(net.readout.synapse),
        weight_bits=weight_bits,
        state_bits=state_bits,
        state_words=1,
        param_bits=0,
        shared_bits=0,
    )
