"""``modspike inspect``: what an artifact holds, what it costs in memory (the one memory model,
:mod:`modspike.memory`), whether it fits one Loihi 2 neurocore (and if not, why), and how many
neurocores it needs when each layer is partitioned under the published limits
(:mod:`.loihi2`: which limit binds)."""

from __future__ import annotations

import numpy as np

from modspike.artifact import Artifact
from modspike.memory import layer_footprint, readout_footprint, synapse_count
from modspike.network import Integration, Network

from .loihi2 import place

# Public figures (docs/fixed-point.md, "Loihi 2 core budget"): 1M neurons / 128 neurocores per chip,
# 128 KB of local SRAM per core shared by synapses, neuron state and parameters; 8-bit weight
# mantissas in Lava's Dense; a Loihi core accepts at most 4096 input axons (spikingjelly#543).
LOIHI2_NEURONS_PER_CORE = 8192
LOIHI2_MEMORY_BYTES_PER_CORE = 128 * 1024
LOIHI2_AXONS_PER_CORE = 4096
LOIHI2_WEIGHT_BITS = 8


def _layer_notes(layer) -> list[str]:
    notes = []
    beta = getattr(layer.cell.params, "beta", None)
    if beta is not None and layer.cell.kind.fixed is not None:
        decays = len(np.unique(np.round(np.asarray(beta), 12)))
        if decays > 1:
            notes.append(
                f"{layer.name}: {decays} distinct decays; Lava's LIF holds one du/dv per process,"
                f" so it needs {decays} processes"
            )
    if layer.cell.kind.hardware_note:
        notes.append(f"{layer.name}: {layer.cell.kind.hardware_note}")
    return notes


def summarize(artifact: Artifact, net: Network) -> dict:
    """A JSON-able summary of an opened artifact."""
    m = artifact.manifest
    bits = net.weight_format.bits if net.quantized else None
    layers, reasons, notes = [], [], []
    for layer in net.layers:
        memory = layer_footprint(layer, net)
        layers.append(
            {
                "name": layer.name,
                "kind": layer.cell.kind.name,
                "synapse": "+".join(
                    [s.kind.name for s in layer.synapse.pre] + [layer.synapse.kind.name]
                ),
                "shape": list(layer.out_shape),
                "neurons": layer.n,
                "inputs": layer.n_in,
                "recurrent": layer.recurrent is not None,
                "synapses": synapse_count(layer),
                "weight_bits": bits,
                "memory_bytes": memory.bytes,
            }
        )
        notes += _layer_notes(layer)
    readout = None
    ro = readout_footprint(net)
    if ro is not None:
        readout = {
            "neurons": ro.neurons,
            "inputs": int(np.asarray(net.readout.synapse.weight).shape[1]),
            "synapses": ro.synapses,
            "weight_bits": bits,
            "memory_bytes": ro.bytes,
            "integrates": "sum over time"
            if net.readout.integration is Integration.SUM_OVER_TIME
            else "per step",
        }
    neurons = sum(x["neurons"] for x in layers) + (readout["neurons"] if readout else 0)
    synapses = sum(x["synapses"] for x in layers) + (readout["synapses"] if readout else 0)
    memory = sum(x["memory_bytes"] for x in layers) + (readout["memory_bytes"] if readout else 0)
    if bits is None:
        reasons.append("weights are float32: not quantised (export a trained run with --bits)")
    elif bits > LOIHI2_WEIGHT_BITS:
        reasons.append(f"{bits}-bit weights exceed Loihi's 8-bit mantissas")
    if neurons > LOIHI2_NEURONS_PER_CORE:
        reasons.append(f"{neurons} neurons > {LOIHI2_NEURONS_PER_CORE} per core")
    if memory > LOIHI2_MEMORY_BYTES_PER_CORE:
        reasons.append(
            f"{memory / 1024:.1f} KiB of synapses and state > {LOIHI2_MEMORY_BYTES_PER_CORE // 1024}"
            " KiB per core"
        )
    if net.n_in > LOIHI2_AXONS_PER_CORE:
        reasons.append(f"{net.n_in} input axons > {LOIHI2_AXONS_PER_CORE} per core")
    if net.quantized and net.weight_format.granularity == "neuron":
        notes.append(
            "per-neuron weight exponents: Lava's Dense has one weight_exp per process (split the"
            " layer, or fold the exponents into the mantissas / thresholds)"
        )
    return {
        "artifact": str(artifact.path),
        "schema": m.get("schema"),
        "created_by": m.get("created_by"),
        "cell": m.get("cell"),
        "dt": net.dt,
        "dt_source": m.get("dt_source", net.provenance.dt_source),
        "encoding": m.get("encoding"),
        "steps": m.get("steps"),
        "data": m.get("data"),
        "quantization": m.get("quantization"),
        "accuracy": m.get("accuracy"),
        "baseline": m.get("baseline"),
        "layers": layers,
        "readout": readout,
        "totals": {"neurons": neurons, "synapses": synapses, "memory_bytes": memory},
        "loihi2_core": {
            "fits": not reasons,
            "reasons": reasons,
            "notes": notes,
            "budget": {
                "neurons": LOIHI2_NEURONS_PER_CORE,
                "memory_bytes": LOIHI2_MEMORY_BYTES_PER_CORE,
                "input_axons": LOIHI2_AXONS_PER_CORE,
                "weight_bits": LOIHI2_WEIGHT_BITS,
            },
        },
        "loihi2_mapping": place(net),
        "warnings": m.get("warnings", []),
    }


def _mapping_lines(mapping: dict | None) -> list[str]:
    if not mapping:
        return []
    lim = mapping["limits"]
    fit = "" if mapping["feasible"] else " (NOT mappable as is: see the layers)"
    lines = [
        f"Loihi 2    estimate: {mapping['cores']} neurocore(s) on {mapping['chips']} chip(s){fit};"
        f" most cores: {mapping['binding_layer']}, bound by {mapping['binding_limit']}",
        f"           limits per core: {lim['neurons']} neurons, {lim['memory_bytes'] // 1024} KiB,"
        f" {lim['input_axons']} input / {lim['output_axons']} output axons",
    ]
    for x in mapping["layers"]:
        c = x["fullest_core"]
        lines.append(
            f"           {x['name']:<14}{x['kind']:<6}{x['neurons']:>7} neurons {x['cores']:>5}"
            f" core(s), binds: {x['binding_limit']:<13} fullest core: {c['neurons']} neurons,"
            f" {c['memory_bytes'] / 1024:.1f} KiB, {c['input_axons']} in / {c['output_axons']}"
            " out axons" + (f"; {x['note']}" if x["note"] else "")
        )
    return lines


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def format_summary(s: dict) -> str:
    """The readable form printed by ``modspike inspect``."""
    versions = s.get("created_by") or {}
    lines = [
        f"artifact   {s['artifact']}  ({s['schema']}; modspike {versions.get('modspike')},"
        f" nir {versions.get('nir')}, torch {versions.get('torch')}, lava {versions.get('lava-nc')})"
    ]
    enc = s.get("encoding") or {}
    data = (s.get("data") or {}).get("name", "-")
    code = f"{enc.get('name')} code, T = {enc.get('steps')}" if enc else "encoding unknown"
    lines.append(
        f"network    {s['cell']}, {len(s['layers'])} layer(s); dt = {s['dt']:g} s ({s['dt_source']});"
        f" {code}; data {data}"
    )
    q = s.get("quantization")
    if q:
        frac = (
            f"; SRC states with {q['src_frac_bits']} fractional bits"
            if q.get("src_frac_bits")
            else ""
        )
        qat = " (QAT)" if q.get("qat") else ""
        lines.append(
            f"quantised  {q['weight_bits']}-bit weights, one exponent per {q['granularity']}{qat}"
            f" ({q['format']}){frac}"
        )
    else:
        lines.append("quantised  no (float32 parameters)")
    acc = s.get("accuracy")
    if acc:
        jac = ", ".join(f"{j:.3f}" for j in acc.get("jaccard") or [])
        lines.append(
            f"accuracy   float {_pct(acc.get('float'))}, quantised {_pct(acc.get('quantized'))};"
            f" Jaccard per layer [{jac}]; flipped predictions {_pct(acc.get('prediction_flips'))}"
        )
    lines.append("")
    header = f"{'layer':<18}{'kind':<9}{'neurons':>8}{'inputs':>8}{'synapses':>10}{'bits':>6}{'memory':>11}"
    lines.append(header)
    for x in s["layers"]:
        name = x["name"] + (" (+rec)" if x["recurrent"] else "")
        lines.append(
            f"{name:<18}{x['kind']:<9}{x['neurons']:>8}{x['inputs']:>8}{x['synapses']:>10}"
            f"{x['weight_bits'] or 32:>6}{x['memory_bytes'] / 1024:>9.1f} KiB"
        )
    r = s.get("readout")
    if r:
        lines.append(
            f"{'readout':<18}{'sum' if r['integrates'] == 'sum over time' else 'step':<9}"
            f"{r['neurons']:>8}{r['inputs']:>8}{r['synapses']:>10}{r['weight_bits'] or 32:>6}"
            f"{r['memory_bytes'] / 1024:>9.1f} KiB"
        )
    t = s["totals"]
    lines.append(
        f"{'total':<17}{'':<9}{t['neurons']:>8}{'':>8}{t['synapses']:>10}{'':>6}"
        f"{t['memory_bytes'] / 1024:>9.1f} KiB"
    )
    lines.append("")
    core = s["loihi2_core"]
    budget = core["budget"]
    limits = (
        f"(budget: {budget['neurons']} neurons, {budget['memory_bytes'] // 1024} KiB,"
        f" {budget['input_axons']} input axons, {budget['weight_bits']}-bit weights)"
    )
    if core["fits"]:
        lines.append(f"Loihi 2    fits one neurocore {limits}")
    else:
        lines.append(f"Loihi 2    does NOT fit one neurocore {limits}:")
        lines += [f"           - {reason}" for reason in core["reasons"]]
    lines += [f"           note: {note}" for note in core["notes"]]
    lines += _mapping_lines(s.get("loihi2_mapping"))
    b = s.get("baseline")
    if b:
        lines.append(
            f"baseline   {b['file']}: ANN, torch {_pct(b['torch_accuracy'])}, onnxruntime"
            f" {_pct(b['onnx_accuracy'])}, identical predictions: {b['identical_predictions']}"
        )
    for w in s.get("warnings") or []:
        lines.append(f"warning    {w}")
    return "\n".join(lines)
