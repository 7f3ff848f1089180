"""Write a :class:`~modspike.network.Network` as a NIR graph (``docs/nir-extensions.md``).

Standard fields hold the float network (for a quantised network: its weights and LIF biases on
the integer grid), so any NIR consumer can run LIF / CubaLIF layers; metadata holds ``dt``, the
reset mode, the weight exponents, the format version and each layer's complete integer model, so
modspike and the hardware models rebuild it bit for bit. Cells without a NIR primitive (the SRC
family) are documented extension subgraphs built from primitives, so ``nir.read`` loads them.
"""

from __future__ import annotations

import json

import nir
import numpy as np

from modspike import __version__
from modspike.errors import ConfigError
from modspike.fixedpoint import FORMAT_VERSION
from modspike.kinds.nir_schema import GRAPH_SCHEMA, META_KEY, PLASTIC_GRAPH_SCHEMA, RESET_MODE
from modspike.network import Integration, Network, Synapse
from modspike.registry import require


def _synapse_node(synapse: Synapse, net: Network) -> nir.NIRNode:
    meta = {}
    if synapse.fixed is not None:
        fmt = net.weight_format
        meta = {
            META_KEY: {
                "format": FORMAT_VERSION,
                "weight_bits": fmt.bits,
                "granularity": fmt.granularity,
                "exponent": synapse.fixed.exponent.astype(np.int64),
                "input_exponent": int(synapse.fixed.input_exponent),
            }
        }
    if synapse.plasticity is not None:  # NIR has no plasticity node: modspike's metadata
        meta.setdefault(META_KEY, {})["plasticity"] = synapse.plasticity.to_json()
    return synapse.kind.write_nir(synapse, meta)


def _graph_metadata(net: Network, info: dict | None) -> dict:
    prov = net.provenance
    readout = net.readout
    summed = readout is not None and readout.integration is Integration.SUM_OVER_TIME
    meta = {
        "schema": GRAPH_SCHEMA,
        "format": FORMAT_VERSION,
        "modspike_version": __version__,
        "readout": "sum_over_time" if summed else "per_step",
        "quantized": net.quantized,
        "model_config_json": json.dumps(dict(prov.model_config or {})),
        "info_json": json.dumps(info if info is not None else dict(prov.info), sort_keys=True),
    }
    if net.quantized:
        meta["weight_bits"] = net.weight_format.bits
        meta["granularity"] = net.weight_format.granularity
    if any(layer.synapse.plasticity is not None for layer in net.layers):
        meta["schema"] = PLASTIC_GRAPH_SCHEMA  # readers without plasticity refuse the file
        meta["requires"] = "plasticity/1"
    return {"dt": float(net.dt), "reset_mode": RESET_MODE, META_KEY: meta}


def to_nir(net: Network, info: dict | None = None) -> nir.NIRGraph:
    """The NIR graph of ``net``. ``info`` (plain JSON values: encoding, steps, data set, ...)
    goes into the graph metadata (default: the network's provenance info)."""
    if not net.dt > 0:
        raise ConfigError(f"dt must be positive, got {net.dt}")
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(net.input_shape))}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for layer in net.layers:
        codec = require(layer.cell.kind, "nir", f"cannot write layer {layer.name}")
        if codec.write is None:
            raise ConfigError(
                f"layer {layer.name}: cell kind {layer.cell.kind.name!r} is read from other tools'"
                " files but not written"
            )
        syn, cell = f"{layer.name}.synapse", f"{layer.name}.cell"
        nodes[syn] = _synapse_node(layer.synapse, net)
        nodes[cell] = codec.write(layer, net.dt)
        edges += [(prev, syn), (syn, cell)]
        if layer.recurrent is not None:
            rec = f"{layer.name}.recurrent"
            nodes[rec] = _synapse_node(layer.recurrent, net)
            edges += [(cell, rec), (rec, cell)]
        prev = cell
    n_out = net.layers[-1].n
    if net.readout is not None:
        nodes["readout"] = _synapse_node(net.readout.synapse, net)
        edges.append((prev, "readout"))
        prev, n_out = "readout", net.readout.n_out
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=_graph_metadata(net, info))
