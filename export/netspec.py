"""A network as modspike runs it after import: a chain of layers, each ``synapse (+ recurrent
synapse) -> neuron``, and an optional readout. Parameters are already in discrete time (one Euler
step of ``dt``); the integer model is attached when the file carries one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from modspike.fxpnet import IntNetwork

NEURON_KINDS = ("lif", "cubalif", "li", "if", "i", "threshold", "src", "msrc", "bsrc")
SPIKING_KINDS = ("lif", "cubalif", "if", "threshold")  # binary output
GRADED_KINDS = ("src", "msrc", "bsrc")  # graded output max(h, 0)


@dataclass
class LayerSpec:
    """One layer. ``params`` per kind (arrays of length n, float64):

    * lif: beta, gain, leak, threshold, v_reset      v = beta*v + gain*I + leak; spike v > thr
    * cubalif: alpha, gain_syn, beta, gain, leak, threshold, v_reset
                                                     I = alpha*I + gain_syn*x; v = beta*v + gain*I + leak
    * li: beta, gain, leak (outputs v)      * if: gain, threshold, v_reset      * i: gain (outputs v)
    * threshold: threshold (stateless)      * src: bh      * msrc / bsrc: b, hs0 (+ ``constants``)
    """

    name: str
    kind: str
    weight: np.ndarray  # (n, n_in)
    bias: np.ndarray | None = None
    rec_weight: np.ndarray | None = None
    rec_bias: np.ndarray | None = None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    constants: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def synapses(self) -> int:
        rec = 0 if self.rec_weight is None else self.rec_weight.size
        return int(self.weight.size + rec)


@dataclass
class NetSpec:
    layers: list[LayerSpec]
    readout: np.ndarray | None  # (n_out, n_last), no bias
    readout_bias: np.ndarray | None
    sum_over_time: bool  # True: logits = readout(sum_t out_t); False: the output is per step
    dt: float
    dt_source: str  # "metadata", "--dt" or "default"
    quantized: IntNetwork | None = None
    weight_bits: int | None = None
    granularity: str | None = None
    metadata: dict = field(default_factory=dict)  # graph-level modspike metadata, decoded
    notes: list[str] = field(default_factory=list)  # what the importer assumed or changed

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return int(self.readout.shape[0]) if self.readout is not None else self.layers[-1].n

    @property
    def kinds(self) -> list[str]:
        return [layer.kind for layer in self.layers]
