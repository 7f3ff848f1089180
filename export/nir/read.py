"""Read NIR graphs (ours, and those other tools write) into a :class:`~modspike.network.Network`.

modspike runs chains of layers: ``Input -> [Flatten] -> {synapse -> neuron (<-> synapse
recurrence)}+ -> [synapse readout] -> Output``. A node's kind is found through the registry:
modspike's extension subgraphs by their ``extension`` name, foreign nodes by the one kind that
claims their class. Anything else is refused with a :class:`~modspike.errors.NIRError` that names
the node, never a library traceback.

``dt`` (NIR has no time step): from the file's metadata, else ``--dt``, else snntorch's 1e-4; the
network's provenance records which (``dt_source``).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import nir
import numpy as np

from modspike import registry
from modspike.errors import ModspikeError, NIRError, QuantizationError
from modspike.fixedpoint import FORMAT_VERSION, WeightFormat, weights_from_grid
from modspike.kinds.nir_schema import (
    DEFAULT_DT,
    EXTENSIONS,
    PLASTIC_GRAPH_SCHEMA,
    schema_version,
)
from modspike.kinds.nir_values import modspike_meta
from modspike.network import (
    Cell,
    Encoding,
    FixedWeights,
    Integration,
    Layer,
    Network,
    Provenance,
    Readout,
    Synapse,
)
from modspike.step import fixed_shifts

from .file import read_nir_file
from .graph import chain, inline_subgraphs


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _decoded(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


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


def _graph_info(gmeta: dict) -> dict:
    out = {k: _decoded(v) for k, v in gmeta.items() if not isinstance(v, dict)}
    for key in ("model_config_json", "info_json"):
        if key in out:
            try:
                out[key.removesuffix("_json")] = json.loads(out.pop(key))
            except (TypeError, ValueError):
                raise NIRError(f"graph metadata {key!r} is not valid JSON") from None
    return out


def _input_shape(node: nir.Input) -> tuple[int, ...]:
    shape = tuple(int(s) for s in np.asarray(node.input_type["input"]).reshape(-1))
    return shape or (1,)


def _cell_kind(node, name: str) -> registry.CellKind:
    ext = modspike_meta(node).get("extension") if isinstance(node, nir.NIRGraph) else None
    if ext is not None:
        ext = _decoded(ext)
        kind = registry.by_extension(ext)
        if kind is None:
            raise NIRError(f"{name}: unknown modspike extension {ext!r}")
        return kind
    try:
        kind = registry.claiming(node)
    except ModspikeError as exc:
        raise NIRError(f"{name}: {exc}") from None
    if not isinstance(kind, registry.CellKind):
        raise NIRError(f"{name}: {type(node).__name__} after a synapse is not supported")
    return kind


def _synapse(node, name: str, in_shape: tuple[int, ...]) -> Synapse:
    kind = registry.claiming(node)
    if not isinstance(kind, registry.SynapseKind):
        raise NIRError(
            f"{name}: {type(node).__name__} where modspike expects a synapse (supported: chains of"
            f" {', '.join(k.name for k in registry.synapses())} synapses -> neurons)"
        )
    weight, bias, attrs = kind.read_nir(node, name)
    synapse = Synapse(kind, weight, bias, attrs, plasticity=_plasticity(node, name))
    try:
        kind.out_shape(synapse, in_shape)
    except ModspikeError:
        raise NIRError(
            f"{name}: weight expects {kind.fan_in(synapse)} inputs but receives"
            f" {int(np.prod(in_shape))} (mismatched shapes)"
        ) from None
    return synapse


def _plasticity(node, name: str):
    """The synapse's learning rule (modspike's NIR extension, ``docs/plasticity.md``) or None."""
    text = modspike_meta(node).get("plasticity")
    if text is None:
        return None
    from modspike.plasticity.spec import Plasticity

    try:
        return Plasticity.from_json(text)
    except ModspikeError as exc:
        raise NIRError(f"{name}: {exc}") from None


def _requires(gmeta: dict) -> None:
    """Refuse a file that needs an extension this reader does not know."""
    text = _decoded(gmeta.get("requires", ""))
    for need in filter(None, (s.strip() for s in str(text).split(","))):
        if need not in EXTENSIONS:
            raise NIRError(f"the file needs modspike extension {need!r}; upgrade modspike")


def _int_scalar(value, name: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf" or not np.isfinite(arr).all():
        raise NIRError(f"{name}: input_exponent must be one integer")
    number = float(arr.reshape(-1)[0])
    if number != int(number) or abs(number) > 64:
        raise NIRError(f"{name}: input_exponent must be a small integer")
    return int(number)


def _fixed_weights(synapse: Synapse, node, name: str, fmt: WeightFormat, in_exp) -> FixedWeights:
    meta = modspike_meta(node)
    if "exponent" not in meta:
        raise NIRError(f"{name}: quantised graph without fixed-point metadata")
    in_exp = _int_scalar(meta.get("input_exponent", in_exp), name)
    if synapse.plasticity is not None:  # the learning engine's grid (9-bit mantissas)
        from modspike.plasticity.spec import engine_weights_from_grid

        q = engine_weights_from_grid(synapse.weight, meta["exponent"], synapse.plasticity, name)
        exponent = np.broadcast_to(np.asarray(meta["exponent"]).reshape(-1), (q.shape[0],))
        return FixedWeights(q, exponent.astype(np.int64), in_exp)
    q = weights_from_grid(synapse.weight, meta["exponent"], fmt, name)
    return FixedWeights(q.mantissa, q.exponent, in_exp)


def _quantized_layer(layer: Layer, nodes: dict, names, fixed_dict, fmt, in_exp) -> Layer:
    """``layer`` with its fixed slots rebuilt from the file's metadata (bit for bit)."""
    syn_name, rec_name = names
    kind = layer.cell.kind
    quant = registry.require(kind, "quant", f"cannot read the integer model of {layer.name}")
    if fixed_dict is None:
        raise NIRError(f"{layer.name}: quantised graph without fixed-point metadata")
    syn_fixed = _fixed_weights(layer.synapse, nodes[syn_name], syn_name, fmt, in_exp)
    cell_fixed = quant.from_dict(fixed_dict, layer.n)
    rec = layer.recurrent
    if rec is not None:
        rec_fixed = _fixed_weights(rec, nodes[rec_name], rec_name, fmt, cell_fixed.out_exp)
        rec = Synapse(rec.kind, rec.weight, rec.bias, rec.attrs, rec_fixed)
    synapse = layer.synapse
    out = Layer(
        layer.name,
        replace(synapse, fixed=syn_fixed),
        Cell(kind, layer.cell.params, layer.cell.constants, cell_fixed),
        rec,
        layer.in_shape,
        layer.out_shape,
    )
    shift, rec_shift = fixed_shifts(out)
    lowest = kind.fixed.min_shift
    if lowest is not None and (
        np.any(shift < lowest) or (rec_shift is not None and np.any(rec_shift < lowest))
    ):
        raise QuantizationError(f"{layer.name}: weight exponents below the {kind.name} drive unit")
    if synapse.bias is not None:
        drive = kind.fixed.drive_exponent(cell_fixed).astype(np.float64)
        if not np.array_equal(cell_fixed.input_bias * np.exp2(drive), synapse.bias):
            raise QuantizationError(f"{syn_name}: bias is not on the declared grid")
    return out


def from_nir(graph: nir.NIRGraph, dt: float | None = None) -> Network:
    """Interpret a NIR graph as a network (float parameters, plus the integer model when the file
    carries modspike's fixed-point metadata)."""
    gmeta = modspike_meta(graph)
    if gmeta:
        schema_version(gmeta.get("schema"), PLASTIC_GRAPH_SCHEMA, "graph")
        _requires(gmeta)
        schema_version(gmeta.get("format", FORMAT_VERSION), FORMAT_VERSION, "fixed-point format")
    dt_value, dt_source, notes = resolve_dt(graph, dt)
    nodes, edges = inline_subgraphs(graph.nodes, graph.edges)
    path, recurrent = chain(nodes, edges)
    inp = next(v for v in nodes.values() if isinstance(v, nir.Input))
    input_shape = shape = _input_shape(inp)
    if len(shape) > 1 and not (path and isinstance(nodes[path[0]], nir.Flatten)):
        raise NIRError(f"input of shape {shape} needs a Flatten first (no Conv support yet)")
    quantized = bool(gmeta.get("quantized"))
    fmt = None
    if quantized:
        try:
            fmt = WeightFormat(int(gmeta["weight_bits"]), _decoded(gmeta["granularity"]))
        except (KeyError, TypeError, ValueError):
            raise NIRError("graph metadata: malformed weight format") from None
    layers: list[Layer] = []
    readout = None
    in_exp = 0
    i = 0
    while i < len(path):
        name, node = path[i], nodes[path[i]]
        if isinstance(node, nir.Flatten):
            shape = (int(np.prod(shape)),)
            i += 1
            continue
        synapse = _synapse(node, name, shape)
        if i + 1 == len(path) and synapse.plasticity is not None:
            raise NIRError(f"{name}: a plastic readout (plasticity needs spiking post neurons)")
        if i + 1 == len(path):
            if quantized:
                fixed = _fixed_weights(synapse, node, name, fmt, in_exp)
                synapse = Synapse(synapse.kind, synapse.weight, synapse.bias, synapse.attrs, fixed)
            readout = (synapse, name)
            break
        cell_name, cell_node = path[i + 1], nodes[path[i + 1]]
        kind = _cell_kind(cell_node, cell_name)
        n = synapse.n_out // kind.in_multiplicity
        params, constants, fixed_dict = kind.nir.read(cell_node, cell_name, n, dt_value, kind)
        rec_name = recurrent.get(cell_name)
        rec = None
        if rec_name is not None:
            rec = _synapse(nodes[rec_name], rec_name, (n,))
            if rec.n_out != synapse.n_out:
                raise NIRError(f"{rec_name}: recurrent weights must be square ({rec.weight.shape})")
        out_shape = (n,)
        layer = Layer(
            cell_name, synapse, Cell(kind, params, constants), rec, tuple(shape), out_shape
        )
        if quantized:
            layer = _quantized_layer(layer, nodes, (name, rec_name), fixed_dict, fmt, in_exp)
            in_exp = layer.cell.fixed.out_exp
        layers.append(layer)
        shape = out_shape
        i += 2
    if not layers:
        raise NIRError("the graph has no neuron layer")
    info = _graph_info(gmeta)
    extra = info.get("info") if isinstance(info.get("info"), dict) else {}
    summed = _decoded(gmeta.get("readout")) == "sum_over_time"
    net = Network(
        input_shape=input_shape,
        layers=tuple(layers),
        readout=None
        if readout is None
        else Readout(readout[0], Integration.SUM_OVER_TIME if summed else Integration.PER_STEP),
        encoding=Encoding.from_dict(extra.get("encoding")),
        dt=dt_value,
        input_exponent=layers[0].synapse.fixed.input_exponent if quantized else 0,
        weight_format=fmt,
        provenance=Provenance(
            source="nir",
            model_config=info.get("model_config")
            if isinstance(info.get("model_config"), dict)
            else None,
            info=extra,
            dt_source=dt_source,
            notes=tuple(notes),
        ),
    )
    _check_plastic(net)
    return net


def _check_plastic(net: Network) -> None:
    from modspike.plasticity.spec import check_learnable, plastic_layers

    for k in plastic_layers(net):
        try:
            check_learnable(net, k)
        except ModspikeError as exc:
            raise NIRError(str(exc)) from None


def import_nir(path: str | Path, dt: float | None = None) -> Network:
    """Read and interpret a ``.nir`` file (typed errors only)."""
    graph = read_nir_file(path)
    try:
        return from_nir(graph, dt)
    except ModspikeError:
        raise
    except Exception as exc:  # untrusted file: malformed values the checks above did not foresee
        raise NIRError(f"{path}: cannot interpret the graph ({_short(exc)})") from None
