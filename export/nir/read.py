"""Read NIR graphs (ours, and those other tools write) into a :class:`~modspike.network.Network`.

modspike runs chains of layers: ``Input -> [Flatten] -> {synapse -> neuron (<-> synapse
recurrence)}+ -> [synapse readout] -> Output``. A node's kind is found through the registry:
modspike's extension subgraphs by their ``extension`` name, foreign nodes by the one kind that
claims their class. Anything else is refused with a :class:`~modspike.errors.NIRError` that names
the node, never a library traceback.

``dt`` (NIR has no time step): from the file's metadata, else ``--dt``, else the producer's (the
step its exporter assumes, or one recovered from the file), else snntorch's 1e-4; the network's
provenance records which (``dt_source``).

``producer`` (``modspike.kinds.producers``): who wrote the file, which the file does not say.
Each neuron node is read as that tool runs it: its cell kind's ``read_foreign`` maps the producer's
conventions (time step, reset, firing rule, input gains) onto the kind's parameters and spike rule,
or a kind the producer's table names instead (Sinabs' spike counts). ``nir`` (the default) is
NIR's own forward-Euler meaning. An artifact written by ``import-nir`` records the producer in its
graph metadata (``producer``, ``producer_reset``), so reading it back needs no option.
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
from modspike.kinds import producers
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
from modspike.quantize import quantize_stages
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


def resolve_dt(
    graph: nir.NIRGraph, dt: float | None, producer: producers.Producer | None = None
) -> tuple[float, str, list[str]]:
    """``(dt, source, notes)``: file metadata first, then ``dt``, then the producer's (recovered
    from the file, or its exporter's), then the default 1e-4."""
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
    if producer is not None and producer.infer_dt is not None:
        inferred = producer.infer_dt(
            [n for n in _all_nodes(graph) if not isinstance(n, nir.NIRGraph)]
        )
        if inferred is not None:
            notes.append(f"dt = {inferred:g} s recovered from the file ({producer.name}'s r)")
            return inferred, "producer", notes
    if producer is not None and producer.dt is not None:
        notes.append(f"dt = {producer.dt:g} s: {producer.name}'s exporter's time step")
        return producer.dt, "producer", notes
    notes.append(f"no dt in the file and no --dt: assumed {DEFAULT_DT:g} s (snntorch's convention)")
    return DEFAULT_DT, "default", notes


def _all_nodes(graph: nir.NIRGraph) -> list:
    out = []
    for node in graph.nodes.values():
        out.append(node)
        if isinstance(node, nir.NIRGraph):
            out += _all_nodes(node)
    return out


def resolve_producer(
    graph: nir.NIRGraph, producer: str | None, reset: str | None
) -> tuple[producers.Producer, str]:
    """``(producer, reset mode)``: ``--producer`` (else the one an import-nir artifact records,
    else ``nir``) and ``--reset`` (else the producer's default reset)."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    recorded = _decoded(meta.get("producer"))
    recorded_reset = _decoded(meta.get("producer_reset"))
    if recorded is not None and producer is not None and producer != recorded:
        raise NIRError(f"the file records producer {recorded!r}; --producer {producer} disagrees")
    chosen = producers.producer(producer or recorded or producers.NIR)
    if not chosen.plain and modspike_meta(graph):
        raise NIRError(
            f"the file was written by modspike; --producer {chosen.name} applies to other tools'"
            " files"
        )
    reset = reset if reset is not None else recorded_reset
    if reset is None:
        reset = chosen.resets[0]
    if reset not in chosen.resets:
        raise NIRError(
            f"--reset {reset}: {chosen.name}'s neurons reset by {' or '.join(chosen.resets)}"
        )
    return chosen, str(reset)


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


def _cell_kind(node, name: str, producer: producers.Producer | None = None) -> registry.CellKind:
    ext = modspike_meta(node).get("extension") if isinstance(node, nir.NIRGraph) else None
    if ext is not None:
        ext = _decoded(ext)
        kind = registry.by_extension(ext)
        if kind is None:
            raise NIRError(f"{name}: unknown modspike extension {ext!r}")
        return kind
    instead = None if producer is None else producer.kinds.get(type(node).__name__)
    if instead is not None:
        return registry.cell(instead)
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
    weight, bias, attrs = kind.read_nir(node, name, tuple(in_shape))
    synapse = Synapse(kind, weight, bias, attrs, plasticity=_plasticity(node, name))
    try:
        kind.out_shape(synapse, in_shape)
    except ModspikeError as exc:
        if np.ndim(weight) == 2:  # a matrix with the wrong number of columns
            raise NIRError(
                f"{name}: weight expects {kind.fan_in(synapse)} inputs but receives"
                f" {int(np.prod(in_shape))} (mismatched shapes)"
            ) from None
        raise NIRError(f"{name}: {exc}") from None
    return synapse


def _check_output_type(node, name: str, shape: tuple[int, ...]) -> None:
    """A node that declares its output type must produce it (a producer's shape convention that
    differs from NIR's is refused here rather than run wrongly)."""
    declared = (getattr(node, "output_type", None) or {}).get("output")
    if declared is None:
        return
    try:
        want = tuple(int(v) for v in np.asarray(declared).reshape(-1))
    except (TypeError, ValueError):
        return
    if want and int(np.prod(want)) != int(np.prod(shape)):
        raise NIRError(
            f"{name}: declares output {want} but computes {tuple(shape)} (mismatched shapes)"
        )


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
    w = np.asarray(synapse.weight)
    q = weights_from_grid(w.reshape(w.shape[0], -1), meta["exponent"], fmt, name)
    return FixedWeights(q.mantissa.reshape(w.shape), q.exponent, in_exp)


def _fixed_composite(synapse: Synapse, node, name: str, fmt: WeightFormat, in_exp) -> Synapse:
    """A synapse of a quantised file with its fixed slots: the weights from the file's exponents
    and input unit, the stages derived (exact pooling kernels) on the units that lead to it."""
    try:
        _, gain = quantize_stages(synapse, fmt, 0)  # the stages' exponents, summed
    except ModspikeError as exc:
        raise NIRError(f"{name}: {exc}") from None
    fixed = _fixed_weights(synapse, node, name, fmt, in_exp + gain)  # the file's unit wins
    pre, _ = quantize_stages(synapse, fmt, fixed.input_exponent - gain)
    return replace(synapse, fixed=fixed, pre=pre)


def _quantized_layer(layer: Layer, nodes: dict, names, fixed_dict, fmt, in_exp) -> Layer:
    """``layer`` with its fixed slots rebuilt from the file's metadata (bit for bit)."""
    syn_name, rec_name = names
    kind = layer.cell.kind
    quant = registry.require(kind, "quant", f"cannot read the integer model of {layer.name}")
    if fixed_dict is None:
        raise NIRError(f"{layer.name}: quantised graph without fixed-point metadata")
    fixed_synapse = _fixed_composite(layer.synapse, nodes[syn_name], syn_name, fmt, in_exp)
    cell_fixed = quant.from_dict(fixed_dict, layer.n)
    rec = layer.recurrent
    if rec is not None:
        rec_fixed = _fixed_weights(rec, nodes[rec_name], rec_name, fmt, cell_fixed.out_exp)
        rec = Synapse(rec.kind, rec.weight, rec.bias, rec.attrs, rec_fixed)
    synapse = layer.synapse
    out = Layer(
        layer.name,
        fixed_synapse,
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
        grid = cell_fixed.input_bias * np.exp2(drive)
        if synapse.bias.shape != grid.shape:  # a convolution's bias: one per channel
            channels = synapse.bias.shape[0]
            if grid.shape[0] % channels or np.any(grid.reshape(channels, -1).T != synapse.bias):
                raise QuantizationError(f"{syn_name}: bias is not on the declared grid")
        elif not np.array_equal(grid, synapse.bias):
            raise QuantizationError(f"{syn_name}: bias is not on the declared grid")
    return out


def read_cell(node, name: str, n: int, reading: producers.Reading, kind: registry.CellKind):
    """``(kind, params, constants, fixed-point dict or None, notes)`` of one neuron node read as
    ``reading.producer`` runs it (``kind``: from :func:`_cell_kind`)."""
    codec = registry.require(kind, "nir", f"cannot read {name}")
    if reading.plain or isinstance(node, nir.NIRGraph):  # ours: the extension says everything
        return (kind, *codec.read(node, name, n, reading.dt, kind), [])
    if codec.read_foreign is None:
        params, constants, _ = codec.read(node, name, n, reading.dt, kind)
        note = f"{name}: {kind.name} read with NIR's meaning at dt = {reading.dt:g}"
        return kind, params, constants, None, [note]
    params, constants = codec.read_foreign(node, name, n, reading)
    return kind, params, constants, None, []


def _assemble(path, nodes, recurrent, input_shape, reading: producers.Reading, chosen, fmt):
    """The layers and the readout of a chain (``graph.chain``'s path), left to right.

    A synapse node followed by a neuron is a layer's synapse; one followed by another synapse
    (pooling between a neuron and the next synapse: ``LIF -> SumPool2d -> Flatten -> Linear``)
    is a ``pre`` stage of that next synapse; ``Flatten`` nodes are absorbed (a dense synapse
    flattens what it receives; the writer puts them back in front of every dense synapse that
    receives an image). The last synapse before the Output is the readout. Returns ``(layers,
    readout, notes)``; each neuron is read as ``reading.producer`` runs it (:func:`read_cell`)."""
    quantized = fmt is not None
    layers: list[Layer] = []
    readout = None
    shape, pending, in_exp, notes = tuple(input_shape), [], 0, []
    i = 0
    while i < len(path):
        name, node = path[i], nodes[path[i]]
        i += 1
        if isinstance(node, nir.Flatten):
            shape = (int(np.prod(shape)),)
            continue
        synapse = _synapse(node, name, shape)
        out = tuple(synapse.kind.out_shape(synapse, shape))
        _check_output_type(node, name, out)
        nxt = nodes[path[i]] if i < len(path) else None
        if nxt is not None and not _is_cell(nxt):
            pending.append(synapse)
            shape = out
            continue
        synapse = replace(synapse, pre=tuple(pending))
        pending = []
        if nxt is None:
            if synapse.plasticity is not None:
                raise NIRError(f"{name}: a plastic readout (plasticity needs spiking post neurons)")
            if quantized:
                synapse = _fixed_composite(synapse, node, name, fmt, in_exp)
            if synapse.kind is not registry.synapse("dense"):
                raise NIRError(f"{name}: the readout must be a Linear or Affine")
            readout = (synapse, name)
            break
        cell_name = path[i]
        i += 1
        kind = _cell_kind(nxt, cell_name, chosen)
        n = int(np.prod(out)) // kind.in_multiplicity
        out_shape = out if len(out) > 1 else (n,)
        kind, params, constants, fixed_dict, more = read_cell(nxt, cell_name, n, reading, kind)
        notes += more
        rec_name = recurrent.get(cell_name)
        rec = None
        if rec_name is not None:
            rec = _synapse(nodes[rec_name], rec_name, (n,))
            if rec.n_out != int(np.prod(out)):
                raise NIRError(f"{rec_name}: recurrent weights must be square ({rec.weight.shape})")
        start = tuple(layers[-1].out_shape) if layers else tuple(input_shape)
        layer = Layer(cell_name, synapse, Cell(kind, params, constants), rec, start, out_shape)
        if quantized:
            layer = _quantized_layer(layer, nodes, (name, rec_name), fixed_dict, fmt, in_exp)
            in_exp = layer.cell.fixed.out_exp
        layers.append(layer)
        shape = out_shape
    if pending:
        raise NIRError(
            f"{path[-1]}: a {pending[-1].kind.name} stage must feed a synapse (nothing follows it)"
        )
    return layers, readout, notes


def _is_cell(node) -> bool:
    from .graph import is_neuron

    return is_neuron(node)


def _input_unit(synapse: Synapse) -> int:
    """The unit of the network input: what the first stage (or the first synapse) receives."""
    first = synapse.pre[0] if synapse.pre else synapse
    return first.fixed.input_exponent


def from_nir(
    graph: nir.NIRGraph,
    dt: float | None = None,
    producer: str | None = None,
    reset: str | None = None,
) -> Network:
    """Interpret a NIR graph as a network (float parameters, plus the integer model when the file
    carries modspike's fixed-point metadata); ``producer`` / ``reset``: whose conventions its
    neurons follow (``modspike.kinds.producers``; default: the file's record, else ``nir``)."""
    gmeta = modspike_meta(graph)
    if gmeta:
        schema_version(gmeta.get("schema"), PLASTIC_GRAPH_SCHEMA, "graph")
        _requires(gmeta)
        schema_version(gmeta.get("format", FORMAT_VERSION), FORMAT_VERSION, "fixed-point format")
    chosen, reset_mode = resolve_producer(graph, producer, reset)
    dt_value, dt_source, notes = resolve_dt(graph, dt, None if chosen.plain else chosen)
    reading = producers.Reading(chosen.name, dt_value, reset_mode)
    if not reading.plain:
        notes.insert(0, f"read as {chosen.name} wrote it: {chosen.summary}")
    nodes, edges = inline_subgraphs(graph.nodes, graph.edges)
    path, recurrent = chain(nodes, edges)
    inp = next(v for v in nodes.values() if isinstance(v, nir.Input))
    input_shape = _input_shape(inp)
    quantized = bool(gmeta.get("quantized"))
    fmt = None
    if quantized:
        try:
            fmt = WeightFormat(int(gmeta["weight_bits"]), _decoded(gmeta["granularity"]))
        except (KeyError, TypeError, ValueError):
            raise NIRError("graph metadata: malformed weight format") from None
    layers, readout, more = _assemble(path, nodes, recurrent, input_shape, reading, chosen, fmt)
    notes += more
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
        input_exponent=_input_unit(layers[0].synapse) if quantized else 0,
        weight_format=fmt,
        provenance=Provenance(
            source="nir",
            model_config=info.get("model_config")
            if isinstance(info.get("model_config"), dict)
            else None,
            info={**extra, "producer": chosen.name, "producer_reset": reset_mode}
            if not reading.plain
            else extra,
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


def import_nir(
    path: str | Path,
    dt: float | None = None,
    producer: str | None = None,
    reset: str | None = None,
) -> Network:
    """Read and interpret a ``.nir`` file (typed errors only); batch dimensions of size 1 in its
    Input / Output types are dropped (a note says so)."""
    repairs: list[str] = []
    graph = read_nir_file(path, repairs)
    try:
        net = from_nir(graph, dt, producer, reset)
        if repairs:
            prov = net.provenance
            net = net.replace(provenance=replace(prov, notes=(*prov.notes, *repairs)))
        return net
    except ModspikeError:
        raise
    except Exception as exc:  # untrusted file: malformed values the checks above did not foresee
        raise NIRError(f"{path}: cannot interpret the graph ({_short(exc)})") from None
