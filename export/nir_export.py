"""Write a quantised spiking network as a NIR graph (``docs/nir-extensions.md``).

Standard fields hold the float network with its weights (and LIF biases) on the integer grid, so
any NIR consumer can run LIF / CubaLIF layers; metadata holds ``dt``, the reset mode, the weight
exponents, the format version and the complete integer model, so modspike (and the hardware
models) rebuild it bit for bit. The SRC family, which has no NIR primitive, is a documented
extension subgraph built from primitives (so ``nir.read`` loads it).
"""

from __future__ import annotations

import json

import nir
import numpy as np
from modspike import __version__
from modspike.errors import ConfigError
from modspike.fixedpoint import FORMAT_VERSION, WeightFormat
from modspike.fxpnet import IntLayer, IntNetwork, cell_params_to_dict
from torch import nn

from .nir_schema import (
    DEFAULT_DT,
    GRAPH_SCHEMA,
    META_KEY,
    RESET_MODE,
    SRC_EXTENSION_SCHEMA,
    encode_constants,
    float32_tau_for_decay,
)


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _per_neuron(value, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()


def _synapse_node(weights, input_exp: int, fmt: WeightFormat, bias=None) -> nir.NIRNode:
    meta = {
        META_KEY: {
            "format": FORMAT_VERSION,
            "weight_bits": fmt.bits,
            "granularity": fmt.granularity,
            "exponent": weights.exponent.astype(np.int64),
            "input_exponent": int(input_exp),
        }
    }
    w = _f32(weights.dequantize())
    if bias is None:
        return nir.Linear(weight=w, metadata=meta)
    return nir.Affine(weight=w, bias=_f32(bias), metadata=meta)


def _lif_nodes(layer: nn.Module, q: IntLayer, dt: float) -> nir.NIRNode:
    """A LIF / CubaLIF node whose Euler step at ``dt`` is the trained discrete-time cell."""
    cell, n = layer.cell, q.n
    beta = _per_neuron(cell.beta, n)
    threshold = _per_neuron(cell.threshold, n)
    tau_mem = float32_tau_for_decay(beta, dt)
    zeros = np.zeros(n, dtype=np.float32)
    meta = {
        "dt": float(dt),
        "reset_mode": RESET_MODE,
        META_KEY: {
            "format": FORMAT_VERSION,
            "kind": q.kind,
            "beta": beta,
            "threshold": threshold,
            "fixed_point": cell_params_to_dict(q),
        },
    }
    if q.kind == "lif":
        return nir.LIF(
            tau=tau_mem,
            r=_f32(tau_mem.astype(np.float64) / dt),
            v_leak=zeros,
            v_threshold=_f32(threshold),
            v_reset=zeros.copy(),
            metadata=meta,
        )
    alpha = _per_neuron(cell.alpha, n)
    meta[META_KEY]["alpha"] = alpha
    tau_syn = float32_tau_for_decay(alpha, dt)
    return nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau_mem,
        r=_f32(tau_mem.astype(np.float64) / dt),
        v_leak=zeros,
        v_threshold=_f32(threshold),
        v_reset=zeros.copy(),
        w_in=_f32(tau_syn.astype(np.float64) / dt),
        metadata=meta,
    )


def _src_params(cell: nn.Module) -> dict:
    if cell.kind == "src":
        return {"bh": cell.bh.detach().cpu().double().numpy()}
    return {
        "b": cell.b.detach().cpu().double().numpy(),
        "hs0": cell.hs0.detach().cpu().double().numpy(),
    }


def _src_subgraph(layer: nn.Module, q: IntLayer, dt: float) -> nir.NIRGraph:
    """The SRC-family extension: ``Input -> LI -> Threshold -> Output`` plus metadata.

    The LI node is the SRC input synapse exactly (``i = alpha*i + a``). The Threshold node only
    marks where the nonlinear core sits: a consumer that does not read the metadata runs
    Heaviside(i), which is *not* the SRC (documented in docs/nir-extensions.md).
    """
    cell, n = layer.cell, q.n
    constants = cell.constants.to_dict()
    alpha = float(constants["alpha"])
    tau = float32_tau_for_decay(np.full(n, alpha), dt)
    synapse = nir.LI(
        tau=tau,
        r=_f32(tau.astype(np.float64) / dt),
        v_leak=np.zeros(n, dtype=np.float32),
        metadata={"modspike_role": "SRC input synapse i[t] = alpha*i[t-1] + a[t] (exact)"},
    )
    core = nir.Threshold(
        threshold=np.zeros(n, dtype=np.float32),
        metadata={"modspike_role": "placeholder for the SRC core: run it from the metadata"},
    )
    meta = {
        "dt": float(dt),
        META_KEY: {
            "extension": cell.kind,
            "schema": SRC_EXTENSION_SCHEMA,
            "format": FORMAT_VERSION,
            "constants": encode_constants(constants),
            "params": _src_params(cell),
            "fixed_point": cell_params_to_dict(q),
            "output": "graded: max(h, 0)",
        },
    }
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "synapse": synapse,
            "core": core,
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "synapse"), ("synapse", "core"), ("core", "output")],
        metadata=meta,
    )


def export_graph(
    model: nn.Module,
    qnet: IntNetwork,
    fmt: WeightFormat,
    dt: float = DEFAULT_DT,
    info: dict | None = None,
    input_exp: int = 0,
) -> nir.NIRGraph:
    """The NIR graph of ``model`` quantised as ``qnet`` (from ``quantize_network(model, fmt)``).

    ``info`` (plain JSON values: encoding, steps, data set, ...) goes into the graph metadata.
    ``input_exp``: the unit of the integer input (0: spikes), as ``quantize_network``'s ``in_exp``.
    """
    if not dt > 0:
        raise ConfigError(f"dt must be positive, got {dt}")
    for layer in model.layers:
        cell = layer.cell
        decays = [getattr(cell, "beta", 0.0), getattr(cell, "alpha", 0.0)]
        if hasattr(cell, "constants"):
            decays.append(cell.constants.alpha)
        if any(np.any(np.asarray(d, dtype=np.float64) >= 1.0) for d in decays):
            raise ConfigError(
                "a decay of 1 (no leak) has no finite NIR time constant; IF export is not supported"
            )
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array([qnet.n_in]))}
    edges: list[tuple[str, str]] = []
    prev, in_exp = "input", input_exp
    for k, (layer, q) in enumerate(zip(model.layers, qnet.layers)):
        syn, cell = f"layer{k}.synapse", f"layer{k}.cell"
        bias = None
        if layer.synapse.bias is not None:
            bias = q.bias * np.exp2(q.state_exp + 6.0)  # the LIF bias on its grid
        nodes[syn] = _synapse_node(q.synapse.weights, in_exp, fmt, bias)
        if q.kind in ("lif", "cubalif"):
            nodes[cell] = _lif_nodes(layer, q, dt)
        else:
            nodes[cell] = _src_subgraph(layer, q, dt)
        edges += [(prev, syn), (syn, cell)]
        if q.recurrent is not None:
            rec = f"layer{k}.recurrent"
            nodes[rec] = _synapse_node(q.recurrent.weights, q.out_exp, fmt)
            edges += [(cell, rec), (rec, cell)]
        prev, in_exp = cell, q.out_exp
    n_out = qnet.layers[-1].n
    if qnet.readout is not None:
        nodes["readout"] = _synapse_node(qnet.readout.weights, in_exp, fmt)
        edges.append((prev, "readout"))
        prev, n_out = "readout", qnet.readout.weights.mantissa.shape[0]
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    edges.append((prev, "output"))
    config = getattr(model, "config", None)
    meta = {
        "dt": float(dt),
        "reset_mode": RESET_MODE,
        META_KEY: {
            "schema": GRAPH_SCHEMA,
            "format": FORMAT_VERSION,
            "modspike_version": __version__,
            "readout": "sum_over_time" if qnet.readout is not None else "per_step",
            "quantized": True,
            "weight_bits": fmt.bits,
            "granularity": fmt.granularity,
            "model_config_json": json.dumps(config.to_dict() if config is not None else {}),
            "info_json": json.dumps(info or {}, sort_keys=True),
        },
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
