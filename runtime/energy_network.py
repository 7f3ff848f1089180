"""The energy tiers' inputs read from a :class:`~modspike.network.Network` and its rasters.

:func:`layer_facts` builds each :class:`LayerFacts` from the network's one memory model
(:func:`modspike.memory.layer_footprint`: weight bits, state words and bits, parameter and shared
bits) and the cell kind's record (output graded or binary), never from names or defaults;
:func:`spiking_counts` counts events per layer from the input spikes and the layers' outputs
(:func:`runtime.energy_counts.spiking_layer_events`) next to the NeuroBench-exact counters.
"""

from __future__ import annotations

import numpy as np

from modspike.errors import ConfigError
from modspike.memory import layer_footprint
from modspike.network import Network
from modspike.registry import Output

from .counters import apply_synapse, deployed_weights
from .energy_counts import spiking_layer_events
from .energy_facts import LayerFacts, ReadoutFacts

ENCODING_OF = {
    "rate": "rate",
    "latency": "latency",
    "events": "events",
    "graded": "direct",
}
"""The network's encoding name -> the name the tiers price (``graded`` input drives the first
layer with values: the ``direct`` encoding)."""


class TierUnavailable(ConfigError):
    """The network has a feature a tier cannot price (the report says so and goes on)."""


def encoding_name(net: Network) -> tuple[str, str | None]:
    """``(encoding the tiers price, note or None)``; an unknown encoding is priced as
    ``events`` (no encoder), with a note."""
    name = net.encoding.name
    if name in ENCODING_OF:
        return ENCODING_OF[name], None
    return "events", f"input encoding {name!r} unknown to the energy model: no encoder priced"


def _is_graded(kind) -> bool:
    return kind.output is Output.GRADED


def layer_facts(net: Network) -> list[LayerFacts]:
    """One :class:`LayerFacts` per layer, from the memory model of the network as deployed
    (24-bit states and the weight format's bits when quantised, 32-bit floats otherwise)."""
    out = []
    for layer in net.layers:
        fp = layer_footprint(layer, net)
        out.append(
            LayerFacts(
                cell=layer.cell.kind.name,
                n_in=int(np.prod(layer.in_shape)),
                n=int(layer.n),
                weight_bits=int(fp.weight_bits),
                state_words=int(fp.state_words),
                state_bits=int(fp.state_bits),
                param_bits=int(fp.param_bits),
                shared_bits=int(fp.shared_bits),
                recurrent=layer.recurrent is not None,
                graded_output=_is_graded(layer.cell.kind),
                weights=int(fp.synapses),
            )
        )
    return out


def readout_facts(net: Network) -> ReadoutFacts | None:
    if net.readout is None:
        return None
    bits = net.weight_format.bits if net.quantized else 32
    return ReadoutFacts(classes=int(net.readout.n_out), weight_bits=int(bits))


def spiking_counts(net: Network, inputs, outputs) -> list[dict[str, np.ndarray]]:
    """Per layer, the tiers' event counts per sample (arrays of shape ``(B,)``): input events,
    recurrent input events, synaptic events (dense storage), graded synaptic events, neuron
    updates, spikes. ``inputs`` (T, B, n_in), ``outputs[l]`` (T, B, n_l), in network units."""
    src = np.asarray(inputs)
    graded_src: bool | None = None  # the encoder's output: decided from its values
    result = []
    for layer, out in zip(net.layers, outputs, strict=True):
        w, w_rec = deployed_weights(layer, net)
        src = src.reshape(src.shape[0], src.shape[1], -1)
        graded_out = _is_graded(layer.cell.kind)
        dense = np.ndim(w) == 2 and not layer.synapse.pre
        d = spiking_layer_events(
            src,
            out,
            w if dense else None,
            w_rec,
            graded_input=graded_src,
            graded_output=graded_out,
            fan_out=None if dense else fan_out(layer),
        )
        result.append(d)
        src, graded_src = np.asarray(out), graded_out
    return result


def fan_out(layer, chunk: int = 256) -> np.ndarray:
    """Per input of a layer whose synapse is not one dense matrix (a convolution, pooling stages
    before it), how many of its neurons that input reaches through the whole composite synapse,
    every stored weight counted (zeros included, as for a dense synapse). Computed by sending
    one-hot inputs through the synapse with all-ones weights: no kind-specific geometry here."""
    n_in = int(np.prod(layer.in_shape))
    synapses = (*layer.synapse.pre, layer.synapse)
    ones = [np.ones(np.shape(s.weight), dtype=np.float64) for s in synapses]
    out = np.empty(n_in, dtype=np.float64)
    for start in range(0, n_in, chunk):
        stop = min(n_in, start + chunk)
        x = np.zeros((stop - start, n_in))
        x[np.arange(stop - start), np.arange(start, stop)] = 1.0
        for syn, w in zip(synapses, ones):
            x = apply_synapse(syn, x, w)
        out[start:stop] = (x != 0).sum(axis=1)
    return out


def mean_counts(per_sample: list[dict[str, np.ndarray]]) -> list[dict[str, float]]:
    """Per-layer means over the samples (every tier is affine in the counts: pricing the mean
    equals the mean of the per-sample energies)."""
    return [{k: float(np.mean(v)) for k, v in d.items()} for d in per_sample]
