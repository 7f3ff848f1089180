"""A Loihi 2 mapping estimate: each layer partitioned onto neurocores under the published limits.

Limits per neurocore (the sources, docs/hardware.md "Loihi 2 mapping report"):

* ``NEURONS_PER_CORE = 8192``: 1 M neurons on 128 neurocores per Loihi 2 chip (Intel, "Taking
  Neuromorphic Computing to the Next Level with Loihi 2", technology brief, 2021);
* ``MEMORY_BYTES_PER_CORE = 128 KiB``: the local SRAM of a neurocore, shared by synapses, neuron
  state and parameters (same brief: flexibly partitioned 128 KB per core);
* ``AXONS_IN_PER_CORE = AXONS_OUT_PER_CORE = 4096``: input and output axons per core (the Loihi
  core limits ``MAX_IN_AXONS`` / ``MAX_OUT_AXONS`` of nengo-loihi's ``block.py``, and the limit
  that stops a (512, 3, 3) convolution kernel in spikingjelly#543): one neuron's fan-in must fit
  the input axons of its core.

Method (an estimate, not Intel's compiler): layers are placed from the last to the first. A dense
layer puts ``m`` neurons per core; each core needs every input as an axon, its ``m`` weight rows
and neuron states in memory, and one output axon per hosted neuron and core of the next layer it
reaches (every core of a dense layer; the cores holding its receptive-field rows for a
convolution). A convolution puts a tile of output rows per core (all channels and columns; fewer
columns, then fewer channels, when one row does not fit); a tile needs the inputs of its
receptive field as axons and the whole kernel of its channels in memory (weights are shared, so
each core stores them once). A pooling stage has no neurons of its own on Loihi (no path from a
synapse to a synapse): it is folded into the next synapse, whose fan-in and stored weights grow
by the pooling window. Each layer reports its cores and the limit that binds (the one that
stopped a core from taking more neurons).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modspike.memory import layer_footprint, widths
from modspike.network import Layer, Network

NEURONS_PER_CORE = 8192
MEMORY_BYTES_PER_CORE = 128 * 1024
AXONS_IN_PER_CORE = 4096
AXONS_OUT_PER_CORE = 4096
CORES_PER_CHIP = 128

LIMITS = {
    "neurons": NEURONS_PER_CORE,
    "memory_bytes": MEMORY_BYTES_PER_CORE,
    "input_axons": AXONS_IN_PER_CORE,
    "output_axons": AXONS_OUT_PER_CORE,
}
SOURCES = {
    "neurons": "1 M neurons / 128 neurocores per chip (Intel Loihi 2 technology brief, 2021)",
    "memory_bytes": "128 KB SRAM per neurocore, flexibly partitioned (Intel Loihi 2 brief, 2021)",
    "input_axons": "4096 input axons per core (nengo-loihi block.py MAX_IN_AXONS;"
    " spikingjelly#543)",
    "output_axons": "4096 output axons per core (nengo-loihi block.py MAX_OUT_AXONS)",
}


@dataclass(frozen=True)
class Placement:
    """One layer on Loihi 2: cores, neurons per core, the binding limit and per-core usage."""

    name: str
    kind: str
    neurons: int
    cores: int
    binding: str  # the limit that capped a core ("neurons", "memory_bytes", ...) or "layer"
    fan_in: int
    per_core: dict  # the fullest core: neurons, memory_bytes, input_axons, output_axons
    feasible: bool
    note: str = ""
    reach: int = 1  # cores one input neuron projects to (its output axons)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "neurons": self.neurons,
            "cores": self.cores,
            "binding_limit": self.binding,
            "fan_in": self.fan_in,
            "fullest_core": self.per_core,
            "feasible": self.feasible,
            "note": self.note,
        }


def _neuron_bits(layer: Layer, net: Network) -> int:
    fp = layer_footprint(layer, net)
    return fp.state_words * fp.state_bits + fp.param_bits


def _conv_geometry(synapse):
    from modspike.kinds.synapses._conv.ops import _as_2d, geometry_of

    if synapse.weight.ndim < 3:
        return None
    return _as_2d(geometry_of(synapse.weight, synapse.attrs))


def _pool_growth(synapse) -> tuple[int, int]:
    """``(fan-in factor, stride factor)`` of the pooling stages folded into a synapse."""
    fan, stride = 1, 1
    for stage in synapse.pre:
        g = _conv_geometry(stage)
        fan *= int(np.prod(g.kernel))
        stride *= int(g.stride[0])
    return fan, stride


def _best(counts: dict[str, int]) -> tuple[int, str]:
    """The largest allowed count and the limit that sets it."""
    name = min(counts, key=lambda k: counts[k])
    return counts[name], name


def _dense(layer: Layer, net: Network, cores_next: int) -> Placement:
    """``cores_next``: the cores each neuron of this layer reaches in the next layer."""
    wbits, _ = widths(net)
    n = layer.n
    fan_growth, _ = _pool_growth(layer.synapse)
    fan_in = int(np.asarray(layer.synapse.weight).shape[1]) * fan_growth
    rec = 0 if layer.recurrent is None else n
    per_neuron = (fan_in + rec) * wbits + _neuron_bits(layer, net)
    shared = layer_footprint(layer, net).shared_bits
    allowed = {
        "neurons": NEURONS_PER_CORE,
        "memory_bytes": max(0, (MEMORY_BYTES_PER_CORE * 8 - shared) // max(per_neuron, 1)),
        "output_axons": AXONS_OUT_PER_CORE // max(cores_next, 1),
    }
    m, binding = _best(allowed)
    axons_in = fan_in + rec
    feasible = m >= 1 and axons_in <= AXONS_IN_PER_CORE
    if axons_in > AXONS_IN_PER_CORE:
        binding, m = "input_axons", max(m, 1)
    m = max(1, min(m, n))
    if m == n and feasible:
        binding = "layer"  # the whole layer fits one core
    cores = math.ceil(n / m)
    usage = {
        "neurons": m,
        "memory_bytes": math.ceil((m * per_neuron + shared) / 8),
        "input_axons": axons_in,
        "output_axons": m * max(cores_next, 1),
    }
    note = "" if feasible else f"fan-in {axons_in} exceeds {AXONS_IN_PER_CORE} input axons"
    # every input neuron reaches every core of a dense layer
    return Placement(layer.name, "dense", n, cores, binding, fan_in, usage, feasible, note, cores)


def _conv(layer: Layer, net: Network, cores_next: int, g) -> Placement:
    wbits, _ = widths(net)
    n = layer.n
    fan_growth, stride_growth = _pool_growth(layer.synapse)
    kh = g.dilation[0] * (g.kernel[0] - 1) + 1
    # a pooling stage before the convolution: its window widens the receptive field
    in_shape = tuple(layer.in_shape) if len(layer.in_shape) == 3 else (1, 1, layer.in_shape[-1])
    c_in, h_in, w_in = in_shape
    h_out, w_out = g.out_shape[1], g.out_shape[2]
    per_neuron = _neuron_bits(layer, net)
    fan_in = g.fan_in * fan_growth
    kernel_bits_per_channel = fan_in * wbits
    shared = layer_footprint(layer, net).shared_bits

    kw = g.dilation[1] * (g.kernel[1] - 1) + 1

    def usage(rows: int, cols: int, channels: int) -> dict:
        in_rows = min(h_in, ((rows - 1) * g.stride[0] + kh) * stride_growth)
        in_cols = min(w_in, ((cols - 1) * g.stride[1] + kw) * stride_growth)
        groups_hosted = min(g.groups, max(1, math.ceil(channels / max(g.c_out // g.groups, 1))))
        in_channels = c_in if g.groups == 1 else min(c_in, groups_hosted * (c_in // g.groups))
        neurons = rows * cols * channels
        bits = channels * kernel_bits_per_channel + neurons * per_neuron + shared
        return {
            "neurons": neurons,
            "memory_bytes": math.ceil(bits / 8),
            "input_axons": in_rows * in_cols * in_channels,
            "output_axons": neurons * max(cores_next, 1),
        }

    def fits(u: dict) -> str | None:
        for key, limit in LIMITS.items():
            if u[key] > limit:
                return key
        return None

    def largest(count: int, use) -> int:
        """The most rows (columns, channels) a core takes (usage grows with it); 0: none."""
        best = 0
        for k in range(1, count + 1):
            if fits(use(k)):
                break
            best = k
        return best

    # a tile per core: whole rows first, then fewer columns, then fewer channels
    rows, cols, channels = h_out, w_out, g.c_out
    rows = largest(h_out, lambda r: usage(r, w_out, g.c_out))
    if rows:
        binding = fits(usage(rows + 1, cols, channels)) if rows < h_out else "layer"
    else:
        rows = 1
        cols = largest(w_out, lambda c: usage(1, c, g.c_out))
        if cols:
            binding = fits(usage(1, cols + 1, channels))
        else:
            cols = 1
            channels = largest(g.c_out, lambda c: usage(1, 1, c))
            binding = fits(usage(1, 1, channels + 1)) if channels else fits(usage(1, 1, 1))
            channels = max(channels, 1)
    u = usage(rows, cols, channels)
    feasible = fits(u) is None
    blocks = math.ceil(g.c_out / channels) * math.ceil(w_out / cols)
    cores = math.ceil(h_out / rows) * blocks
    # an input row feeds the output rows whose receptive field holds it: ceil(kh / stride) rows
    spread = math.ceil(kh / g.stride[0])
    reach = min(cores, (math.ceil(spread / rows) + 1) * blocks)
    note = ""
    if not feasible:
        note = (
            f"one neuron's fan-in ({fan_in}) or its kernel does not fit a core"
            f" ({binding} {u[binding]} > {LIMITS[binding]})"
        )
    return Placement(layer.name, "conv", n, cores, binding, fan_in, u, feasible, note, reach)


def place(net: Network) -> dict:
    """The mapping estimate of ``net`` (see the module docstring), JSON-ready."""
    placements: list[Placement] = []
    cores_next = 1  # cores a neuron reaches downstream: the last layer's go to the host
    for layer in reversed(net.layers):
        g = _conv_geometry(layer.synapse)
        p = _dense(layer, net, cores_next) if g is None else _conv(layer, net, cores_next, g)
        placements.append(p)
        cores_next = p.reach
    placements.reverse()
    total = sum(p.cores for p in placements)
    binding = max(placements, key=lambda p: p.cores)
    return {
        "kind": "estimate",
        "cores": total,
        "chips": math.ceil(total / CORES_PER_CHIP),
        "feasible": all(p.feasible for p in placements),
        "binding_layer": binding.name,
        "binding_limit": binding.binding,
        "layers": [p.to_dict() for p in placements],
        "limits": dict(LIMITS),
        "sources": dict(SOURCES),
        "method": "greedy per layer from the output; pooling folded into the next synapse;"
        " output axons counted per hosted neuron and next-layer core it reaches",
    }
