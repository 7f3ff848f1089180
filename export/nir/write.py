"""Write a :class:`~modspike.network.Network` as a NIR graph (``docs/nir-extensions.md``).

Standard fields hold the float network (for a quantised network: its weights and LIF biases on
the integer grid), so any NIR consumer can run LIF / CubaLIF layers; metadata holds ``dt``, the
reset mode, the weight exponents, the format version and each layer's complete integer model, so
modspike and the hardware models rebuild it bit for bit. Cells without a NIR primitive (the SRC
family) are documented extension subgraphs built from primitives, so ``nir.read`` loads them.
"""

from __future__ import annotations

import dataclasses
import json

import nir
import numpy as np

from modspike import __version__, registry
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


def _synapse_chain(
    prefix: str, main: str, synapse: Synapse, in_shape: tuple[int, ...], net: Network
) -> list[tuple[str, nir.NIRNode]]:
    """The nodes of a composite synapse in order: its ``pre`` stages (``{prefix}.stage{k}``), a
    ``Flatten`` where a dense synapse receives an image (``{prefix}.flatten``), the synapse."""
    out, shape = [], tuple(in_shape)
    for k, stage in enumerate(synapse.pre):
        out.append((f"{prefix}.stage{k}", _synapse_node(stage, net)))
        shape = tuple(stage.kind.out_shape(stage, shape))
    if len(shape) > 1 and synapse.kind is registry.synapse("dense"):
        out.append((f"{prefix}.flatten", nir.Flatten(input_type=np.array(shape), start_dim=0)))
    out.append((main, _synapse_node(synapse, net)))
    return out


def shaped(node, n: int, shape: tuple[int, ...]):
    """A neuron node (or an extension subgraph) with its per-neuron arrays in ``shape`` (the
    ``(C, H, W)`` of a convolutional layer), so that NIR's type check sees ``Conv2d -> LIF``
    agree; modspike's metadata keeps the flat arrays."""
    if len(shape) < 2:
        return node
    if isinstance(node, nir.NIRGraph):
        nodes = {k: shaped(v, n, shape) for k, v in node.nodes.items()}
        return nir.NIRGraph(nodes=nodes, edges=list(node.edges), metadata=node.metadata)
    if isinstance(node, nir.Input):
        return nir.Input(input_type=np.array(shape), metadata=node.metadata)
    if isinstance(node, nir.Output):
        return nir.Output(output_type=np.array(shape), metadata=node.metadata)
    values = {}
    for f in dataclasses.fields(node):
        if not f.init:
            continue
        value = getattr(node, f.name)
        if isinstance(value, np.ndarray) and value.shape == (n,) and f.name != "metadata":
            value = value.reshape(shape)
        values[f.name] = value
    return type(node)(**values)


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
        for name, node in _synapse_chain(layer.name, syn, layer.synapse, layer.in_shape, net):
            nodes[name] = node
            edges.append((prev, name))
            prev = name
        nodes[cell] = shaped(codec.write(layer, net.dt), layer.n, tuple(layer.out_shape))
        edges.append((syn, cell))
        if layer.recurrent is not None:
            rec = f"{layer.name}.recurrent"
            nodes[rec] = _synapse_node(layer.recurrent, net)
            edges += [(cell, rec), (rec, cell)]
        prev = cell
    out_type = tuple(net.layers[-1].out_shape)
    if net.readout is not None:
        shape = tuple(net.layers[-1].out_shape)
        for name, node in _synapse_chain("readout", "readout", net.readout.synapse, shape, net):
            nodes[name] = node
            edges.append((prev, name))
            prev = name
        out_type = (net.readout.n_out,)
    nodes["output"] = nir.Output(output_type=np.array(out_type))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=_graph_metadata(net, info))
