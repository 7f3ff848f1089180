"""Read NIR files (ours, and those other tools write) into a :class:`NetSpec`.

modspike runs chains of layers: ``Input -> [Flatten] -> {Affine|Linear -> neuron (<-> Linear
recurrence)}+ -> [Affine|Linear readout] -> Output``, with LIF, CubaLIF, LI, IF, I, Threshold and
modspike's SRC-family extension subgraphs as neurons. Anything else is refused with a
:class:`~modspike.errors.NIRError` that names the node, never a library traceback.

``dt`` (NIR has no time step): from the file's metadata, else ``--dt``, else snntorch's 1e-4; the
spec records which (``dt_source``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nir
import numpy as np
from modspike.errors import ModspikeError, NIRError, QuantizationError
from modspike.fixedpoint import FORMAT_VERSION, WeightFormat, weights_from_grid
from modspike.fxpnet import SRC_KINDS, IntNetwork, IntReadout, layer_from_dict
from modspike.hdf5_guard import load_checked
from modspike.validate import check_extension, check_fixed_point_cell, check_graph_meta

from .netspec import LayerSpec, NetSpec
from .nir_schema import (
    DEFAULT_DT,
    GRAPH_SCHEMA,
    META_KEY,
    RESET_MODE,
    SRC_EXTENSION_SCHEMA,
    decode_constants,
    schema_version,
)

NIR_PRIMITIVES = (
    "Input Output Affine Linear Conv1d Conv2d Delay Flatten I IF LI LIF CubaLI CubaLIF Scale"
    " SumPool2d AvgPool2d Threshold NIRGraph"
).split()
SYNAPSES = (nir.Affine, nir.Linear)
NEURONS = (nir.LIF, nir.CubaLIF, nir.LI, nir.IF, nir.I, nir.Threshold, nir.NIRGraph)
GAIN_SNAP = 1e-6  # gains within float32 rounding of 1 (snntorch writes r = 9.999997) count as 1


# --------------------------------------------------------------------------- reading


def _scan_node_types(group, where: str) -> None:
    """Name the first node whose type NIR does not know (nir.read would fail with a bare assert)."""
    if "type" not in group:
        raise NIRError(f"{where}: node has no 'type'")
    raw = group["type"][()]
    tname = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    if tname not in NIR_PRIMITIVES:
        raise NIRError(
            f"node {where!r} has type {tname!r}, which is not a NIR primitive"
            f" ({', '.join(NIR_PRIMITIVES[:-1])}); modspike cannot run it"
        )
    if tname == "NIRGraph":
        if "nodes" not in group:
            raise NIRError(f"{where}: graph without nodes")
        for name, sub in group["nodes"].items():
            _scan_node_types(sub, f"{where}/{name}" if where != "graph" else name)


def read_nir_file(path: str | Path) -> nir.NIRGraph:
    """``nir.read`` with typed errors: missing, truncated or corrupted files, files that are not
    self-contained (external links / storage, soft links, virtual datasets: refused before any data
    is read, ``modspike.hdf5_guard``), unknown node types, shape (type) mismatches.

    The file is read once into memory; the checked bytes are the parsed bytes."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise NIRError(f"{path}: no such NIR file")
    buffer = load_checked(path)
    try:
        with h5py.File(buffer, "r") as f:
            if "node" not in f:
                raise NIRError(f"{path}: not a NIR file (no 'node' group)")
            _scan_node_types(f["node"], "graph")
    except ModspikeError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, ... on corrupt files
        raise NIRError(f"{path}: not a readable NIR (HDF5) file ({_short(exc)})") from None
    buffer.seek(0)
    try:
        graph = nir.read(buffer)
    except Exception as exc:  # nir raises AssertionError, ValueError, KeyError, TypeError, ...
        raise NIRError(f"{path}: invalid NIR graph ({_short(exc)})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"{path}: the file holds a single {type(graph).__name__}, not a graph")
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    check_graph_meta(meta.get(META_KEY), str(path))
    return graph


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# --------------------------------------------------------------------------- graph structure


def _modspike_meta(node) -> dict:
    meta = getattr(node, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    value = meta.get(META_KEY)
    return value if isinstance(value, dict) else {}


def _is_extension(node) -> bool:
    return isinstance(node, nir.NIRGraph) and "extension" in _modspike_meta(node)


def _inline_subgraphs(nodes: dict, edges: list) -> tuple[dict, list]:
    """Flatten nested graphs that are not modspike extensions (e.g. snntorch's RNN subgraphs)."""
    nodes, edges = dict(nodes), list(edges)
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.NIRGraph) or _is_extension(node):
            continue
        sub_nodes, sub_edges = _inline_subgraphs(node.nodes, node.edges)
        ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise NIRError(f"subgraph {name!r} needs exactly one Input and one Output node")
        del nodes[name]
        for k, v in sub_nodes.items():
            if k not in (ins[0], outs[0]):
                nodes[f"{name}.{k}"] = v
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        edges = [(a, b) for a, b in edges if name not in (a, b)]
        for a, b in sub_edges:
            if a == ins[0] and b == outs[0]:
                edges += [(p, s) for p in preds for s in succs]
            elif a == ins[0]:
                edges += [(p, f"{name}.{b}") for p in preds]
            elif b == outs[0]:
                edges += [(f"{name}.{a}", s) for s in succs]
            else:
                edges.append((f"{name}.{a}", f"{name}.{b}"))
    return nodes, edges


def _chain(nodes: dict, edges: list) -> tuple[list[str], dict[str, str]]:
    """The path from Input to Output, and the recurrent synapse of each neuron on it."""
    ins = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(ins) != 1 or len(outs) != 1:
        raise NIRError(
            f"modspike runs graphs with one Input and one Output; this one has {len(ins)} and"
            f" {len(outs)}"
        )
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise NIRError(f"edge ({a!r}, {b!r}) refers to a node that does not exist")
    edge_set = set(edges)
    recurrent: dict[str, str] = {}
    for a, b in edge_set:
        if (b, a) in edge_set and isinstance(nodes[a], SYNAPSES) and isinstance(nodes[b], NEURONS):
            n_pred = sum(1 for e in edge_set if e[1] == a)
            n_succ = sum(1 for e in edge_set if e[0] == a)
            if n_pred == 1 and n_succ == 1:
                recurrent[b] = a
    rec_nodes = set(recurrent.values())
    forward = [(a, b) for a, b in edges if a not in rec_nodes and b not in rec_nodes]
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in forward:
        succs[a].append(b)
        preds[b].append(a)
    path, cur, seen = [], ins[0], {ins[0]}
    while cur != outs[0]:
        if len(succs[cur]) != 1:
            raise NIRError(
                f"unsupported topology: node {cur!r} feeds {len(succs[cur])} nodes; modspike runs"
                " chains of layers (with self-recurrence through one Linear/Affine)"
            )
        nxt = succs[cur][0]
        if len(preds[nxt]) != 1:
            raise NIRError(
                f"unsupported topology: node {nxt!r} has {len(preds[nxt])} inputs (skip connections"
                " and multi-layer cycles are not supported)"
            )
        if nxt in seen:
            raise NIRError(f"unsupported topology: a cycle through {nxt!r}")
        seen.add(nxt)
        path.append(nxt)
        cur = nxt
    stray = set(nodes) - seen - rec_nodes
    if stray:
        raise NIRError(f"nodes off the input-output path: {', '.join(sorted(stray))}")
    return path[:-1], recurrent


# --------------------------------------------------------------------------- parameters


def _array(node, attr: str, name: str, n: int | None = None) -> np.ndarray:
    value = node.get(attr) if isinstance(node, dict) else getattr(node, attr, None)
    if value is None:
        raise NIRError(f"{name}: missing {attr!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NIRError(f"{name}: {attr!r} is not numeric") from None
    if not np.all(np.isfinite(arr)):
        raise NIRError(f"{name}: {attr!r} contains NaN or Inf values")
    if n is not None:
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        arr = arr.reshape(-1) if arr.size == n else arr
        if arr.shape != (n,):
            raise NIRError(
                f"{name}: {attr!r} has shape {arr.shape}, expected ({n},) (mismatched shapes)"
            )
    return arr


def _snap(gain: np.ndarray) -> np.ndarray:
    return np.where(np.abs(gain - 1.0) <= GAIN_SNAP, 1.0, gain)


def _rate(tau: np.ndarray, dt: float, name: str, attr: str = "tau") -> np.ndarray:
    if np.any(tau <= 0):
        raise NIRError(f"{name}: {attr} must be positive")
    k = dt / tau
    if np.any(k > 1.0 + GAIN_SNAP):
        raise NIRError(
            f"{name}: dt/{attr} = {k.max():.3g} > 1 at dt = {dt:g}: a forward-Euler step that long is"
            " unstable; pass a smaller --dt"
        )
    return np.minimum(k, 1.0)


def _reset(node, name: str) -> None:
    mode = (getattr(node, "metadata", None) or {}).get("reset_mode", RESET_MODE)
    if isinstance(mode, bytes):
        mode = mode.decode(errors="replace")
    if mode != RESET_MODE:
        raise NIRError(f"{name}: reset mode {mode!r} is not supported (modspike resets to v_reset)")


def _neuron_params(node, name: str, n: int, dt: float) -> tuple[str, dict, dict]:
    """``(kind, params, constants)`` of a neuron node in discrete time at ``dt``."""
    meta = _modspike_meta(node)
    if isinstance(node, nir.LIF):
        _reset(node, name)
        k = _rate(_array(node, "tau", name, n), dt, name)
        beta = _array(meta, "beta", name, n) if "beta" in meta else 1.0 - k
        params = {
            "beta": beta,
            "gain": _snap(k * _array(node, "r", name, n)),
            "leak": k * _array(node, "v_leak", name, n),
            "threshold": _array(node, "v_threshold", name, n),
            "v_reset": _v_reset(node, name, n),
        }
        return "lif", params, {}
    if isinstance(node, nir.CubaLIF):
        _reset(node, name)
        ks = _rate(_array(node, "tau_syn", name, n), dt, name, "tau_syn")
        km = _rate(_array(node, "tau_mem", name, n), dt, name, "tau_mem")
        params = {
            "alpha": _array(meta, "alpha", name, n) if "alpha" in meta else 1.0 - ks,
            "gain_syn": _snap(ks * _array(node, "w_in", name, n)),
            "beta": _array(meta, "beta", name, n) if "beta" in meta else 1.0 - km,
            "gain": _snap(km * _array(node, "r", name, n)),
            "leak": km * _array(node, "v_leak", name, n),
            "threshold": _array(node, "v_threshold", name, n),
            "v_reset": _v_reset(node, name, n),
        }
        return "cubalif", params, {}
    if isinstance(node, nir.LI):
        k = _rate(_array(node, "tau", name, n), dt, name)
        params = {
            "beta": 1.0 - k,
            "gain": _snap(k * _array(node, "r", name, n)),
            "leak": k * _array(node, "v_leak", name, n),
        }
        return "li", params, {}
    if isinstance(node, nir.IF):
        _reset(node, name)
        params = {
            "gain": _snap(dt * _array(node, "r", name, n)),
            "threshold": _array(node, "v_threshold", name, n),
            "v_reset": _v_reset(node, name, n),
        }
        return "if", params, {}
    if isinstance(node, nir.I):
        return "i", {"gain": _snap(dt * _array(node, "r", name, n))}, {}
    if isinstance(node, nir.Threshold):
        return "threshold", {"threshold": _array(node, "threshold", name, n)}, {}
    if isinstance(node, nir.NIRGraph):
        return _extension_params(node, name, n)
    raise NIRError(f"{name}: {type(node).__name__} is not a neuron modspike can run")


def _v_reset(node, name: str, n: int) -> np.ndarray:
    if getattr(node, "v_reset", None) is None:  # files from before NIR PR #129
        return np.zeros(n)
    return _array(node, "v_reset", name, n)


def _extension_params(node: nir.NIRGraph, name: str, n: int) -> tuple[str, dict, dict]:
    meta = _modspike_meta(node)
    kind = meta.get("extension")
    if isinstance(kind, bytes):
        kind = kind.decode(errors="replace")
    schema_version(meta.get("schema"), SRC_EXTENSION_SCHEMA, name)
    if kind not in SRC_KINDS:
        raise NIRError(f"{name}: unknown modspike extension {kind!r}")
    check_extension(meta, name, n)  # finite real constants and parameters (validate.py)
    constants = meta.get("constants")
    params = meta.get("params")
    if not isinstance(constants, dict) or not isinstance(params, dict):
        raise NIRError(f"{name}: the {kind} extension lacks its constants or parameters")
    constants = decode_constants(constants)
    names = ("bh",) if kind == "src" else ("b", "hs0")
    values = {p: _array(params, p, name, n) for p in names if p in params}
    if len(values) != len(names):
        raise NIRError(f"{name}: the {kind} extension lacks parameters {', '.join(names)}")
    return kind, values, constants


# --------------------------------------------------------------------------- dt


def resolve_dt(graph: nir.NIRGraph, dt: float | None) -> tuple[float, str, list[str]]:
    """``(dt, source, notes)``: file metadata first, then ``dt``, then the default 1e-4."""
    notes = []
    found = []
    for meta in [graph.metadata] + [getattr(n, "metadata", None) for n in graph.nodes.values()]:
        if isinstance(meta, dict) and "dt" in meta:
            found.append(meta["dt"])
    if dt is not None and not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise NIRError(f"--dt must be a positive number, got {dt!r}")
    if found:
        try:
            values = {float(np.asarray(v).reshape(-1)[0]) for v in found}
        except (TypeError, ValueError, IndexError):
            raise NIRError("the file's dt metadata is not a number") from None
        if len(values) > 1 or not all(math.isfinite(v) and v > 0 for v in values):
            raise NIRError(f"the file records inconsistent or invalid dt values: {sorted(values)}")
        file_dt = values.pop()
        if dt is not None and dt != file_dt:
            notes.append(f"--dt {dt:g} ignored: the file records dt = {file_dt:g}")
        return file_dt, "metadata", notes
    if dt is not None:
        return float(dt), "--dt", notes
    notes.append(f"no dt in the file and no --dt: assumed {DEFAULT_DT:g} s (snntorch's convention)")
    return DEFAULT_DT, "default", notes


# --------------------------------------------------------------------------- assembly


def _synapse(node, name: str, width: int) -> tuple[np.ndarray, np.ndarray | None]:
    w = _array(node, "weight", name)
    if w.ndim != 2:
        raise NIRError(f"{name}: weight must be a matrix, got shape {w.shape}")
    if w.shape[1] != width:
        raise NIRError(
            f"{name}: weight expects {w.shape[1]} inputs but receives {width} (mismatched shapes)"
        )
    bias = _array(node, "bias", name, w.shape[0]) if isinstance(node, nir.Affine) else None
    return w, bias


def _input_width(node: nir.Input) -> tuple[int, tuple[int, ...]]:
    shape = tuple(int(s) for s in np.asarray(node.input_type["input"]).reshape(-1))
    return int(np.prod(shape)) if shape else 1, shape


def graph_to_spec(graph: nir.NIRGraph, dt: float | None = None) -> NetSpec:
    """Interpret a NIR graph as a modspike chain (float parameters, plus the integer model when the
    file carries modspike's fixed-point metadata)."""
    gmeta = _modspike_meta(graph)
    if gmeta:
        schema_version(gmeta.get("schema"), GRAPH_SCHEMA, "graph")
        schema_version(gmeta.get("format", FORMAT_VERSION), FORMAT_VERSION, "fixed-point format")
    dt_value, dt_source, notes = resolve_dt(graph, dt)
    nodes, edges = _inline_subgraphs(graph.nodes, graph.edges)
    path, recurrent = _chain(nodes, edges)
    inp = next(v for v in nodes.values() if isinstance(v, nir.Input))
    width, shape = _input_width(inp)
    if len(shape) > 1 and not (path and isinstance(nodes[path[0]], nir.Flatten)):
        raise NIRError(f"input of shape {shape} needs a Flatten first (no Conv support yet)")
    layers: list[LayerSpec] = []
    syn_names: list[tuple[str, str | None]] = []
    readout = readout_bias = None
    readout_name = None
    i = 0
    while i < len(path):
        name, node = path[i], nodes[path[i]]
        if isinstance(node, nir.Flatten):
            i += 1
            continue
        if not isinstance(node, SYNAPSES):
            raise NIRError(
                f"{name}: {type(node).__name__} where modspike expects Affine or Linear (supported:"
                " chains of Affine/Linear -> LIF, CubaLIF, LI, IF, I, Threshold or SRC extension)"
            )
        w, b = _synapse(node, name, width)
        if i + 1 == len(path):
            readout, readout_bias, readout_name = w, b, name
            break
        cell_name, cell = path[i + 1], nodes[path[i + 1]]
        if not isinstance(cell, NEURONS):
            raise NIRError(f"{cell_name}: {type(cell).__name__} after a synapse is not supported")
        kind, params, constants = _neuron_params(cell, cell_name, w.shape[0], dt_value)
        layer = LayerSpec(cell_name, kind, w, b, params=params, constants=constants)
        rec_name = recurrent.get(cell_name)
        if rec_name is not None:
            rw, rb = _synapse(nodes[rec_name], rec_name, w.shape[0])
            if rw.shape[0] != w.shape[0]:
                raise NIRError(f"{rec_name}: recurrent weights must be square ({rw.shape})")
            layer.rec_weight, layer.rec_bias = rw, rb
        layers.append(layer)
        syn_names.append((name, rec_name))
        width = w.shape[0]
        i += 2
    if not layers:
        raise NIRError("the graph has no neuron layer")
    spec = NetSpec(
        layers=layers,
        readout=readout,
        readout_bias=readout_bias,
        sum_over_time=_decoded(gmeta.get("readout")) == "sum_over_time",
        dt=dt_value,
        dt_source=dt_source,
        metadata=_decode_graph_meta(gmeta),
        notes=notes,
    )
    if gmeta.get("quantized"):
        _attach_integer_model(spec, nodes, syn_names, readout_name, gmeta)
    return spec


def _decoded(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_graph_meta(gmeta: dict) -> dict:
    out = {k: _decoded(v) for k, v in gmeta.items() if not isinstance(v, dict)}
    for key in ("model_config_json", "info_json"):
        if key in out:
            try:
                out[key.removesuffix("_json")] = json.loads(out.pop(key))
            except (TypeError, ValueError):
                raise NIRError(f"graph metadata {key!r} is not valid JSON") from None
    return out


def _int_scalar(value, name: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf" or not np.isfinite(arr).all():
        raise NIRError(f"{name}: input_exponent must be one integer")
    number = float(arr.reshape(-1)[0])
    if number != int(number) or abs(number) > 64:
        raise NIRError(f"{name}: input_exponent must be a small integer")
    return int(number)


def _attach_integer_model(spec: NetSpec, nodes, syn_names, readout_name, gmeta) -> None:
    """Rebuild the exported integer network from the metadata (bit for bit)."""
    try:
        fmt = WeightFormat(int(gmeta["weight_bits"]), _decoded(gmeta["granularity"]))
    except (KeyError, TypeError, ValueError):
        raise NIRError("graph metadata: malformed weight format") from None
    try:
        int_layers = []
        for layer, (syn_name, rec_name) in zip(spec.layers, syn_names):
            syn_meta = _modspike_meta(nodes[syn_name])
            cell_meta = _modspike_meta(nodes[layer.name])
            if "exponent" not in syn_meta or "fixed_point" not in cell_meta:
                raise NIRError(f"{layer.name}: quantised graph without fixed-point metadata")
            syn_q = weights_from_grid(layer.weight, syn_meta["exponent"], fmt, syn_name)
            rec_q = None
            if rec_name is not None:
                rec_meta = _modspike_meta(nodes[rec_name])
                rec_q = weights_from_grid(
                    layer.rec_weight, rec_meta.get("exponent", []), fmt, rec_name
                )
            in_exp = _int_scalar(syn_meta.get("input_exponent", 0), syn_name)
            check_fixed_point_cell(layer.kind, cell_meta["fixed_point"], layer.n, layer.name)
            int_layer = layer_from_dict(layer.kind, syn_q, rec_q, cell_meta["fixed_point"], in_exp)
            if layer.bias is not None:
                expect = int_layer.bias * np.exp2(int_layer.state_exp + 6.0)
                if not np.array_equal(expect, layer.bias):
                    raise QuantizationError(f"{syn_name}: bias is not on the declared grid")
            int_layers.append(int_layer)
        readout = None
        if spec.readout is not None:
            ro_meta = _modspike_meta(nodes[readout_name])
            ro_q = weights_from_grid(spec.readout, ro_meta.get("exponent", []), fmt, readout_name)
            in_exp = _int_scalar(
                ro_meta.get("input_exponent", int_layers[-1].out_exp), readout_name
            )
            readout = IntReadout(ro_q, in_exp)
    except (KeyError, TypeError, ValueError) as exc:
        raise NIRError(f"malformed fixed-point metadata ({_short(exc)})") from None
    spec.quantized = IntNetwork(int_layers, readout)
    spec.weight_bits, spec.granularity = fmt.bits, fmt.granularity


def import_nir(path: str | Path, dt: float | None = None) -> NetSpec:
    """Read and interpret a ``.nir`` file (typed errors only)."""
    graph = read_nir_file(path)
    try:
        return graph_to_spec(graph, dt)
    except ModspikeError:
        raise
    except Exception as exc:  # untrusted file: malformed values the checks above did not foresee
        raise NIRError(f"{path}: cannot interpret the graph ({_short(exc)})") from None
