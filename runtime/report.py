"""``modspike report``: what one or more artifacts cost, as modeled energy next to their ANN baseline.

For each artifact: run it (``modspike.hw.run_artifact``, backend ``sim`` by default, ``lava``
gives identical counts) keeping the rasters, count per layer / per sample / per step with
:mod:`modspike.runtime.counters`, price the counts on an energy profile (``loihi`` by default),
and price the artifact's ``baseline.onnx`` ANN (MACs from :mod:`modspike.runtime.ann_cost`) at
the precision-matched int8 MAC of ``horowitz45``. The ANN's accuracy and latency come from
onnxruntime: as exported (fp32) and dynamically quantised to int8 weights and activations.

The report folder holds ``report.json`` (every number), ``report.md`` (tables) and a
self-contained ``report.html`` (figures as base64 PNG). It is written to a temporary folder and
renamed, so a failed report leaves nothing behind. Everything is **modeled**; the caveats go in
every report.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from modspike.errors import ArtifactError, ConfigError
from modspike.export.artifact_build import open_artifact
from modspike.hw.run_artifact import run_artifact
from modspike.rundir import atomic_directory, write_json
from modspike.runtime.ann_cost import ann_energy, onnx_macs
from modspike.runtime.counters import count_layers, sum_over_time, summarize
from modspike.runtime.energy import SNN_KEYS, load_profile, snn_energy
from modspike.runtime.report_render import figures, html_page, markdown

REPORT_FILES = ("report.json", "report.md", "report.html")
BASELINE_FILE = "baseline.onnx"

CAVEATS = [
    "Modeled, not measured: every energy here is a count of operations times a cost per operation"
    " taken from a published table (the profile's citations are in report.json). Nothing was"
    " run on a chip or read from a power meter.",
    "Static (leakage) power is left out. On real neuromorphic boards it dominates: Intel's own"
    " Loihi 2 PilotNet measurement shows 0.282 W static against a dynamic part within the noise.",
    "Memory traffic is left out on both sides: fetching weights and reading or writing neuron"
    " state is priced at zero. Counting only synaptic operations favours spiking networks"
    " (Dampfhoffer et al. 2023; Bhattacharjee et al. 2023; Yan et al. 2024).",
    "The two sides use different tables: the SNN is priced with the neuromorphic profile, the"
    " ANN with int8 multiply-accumulates at 45 nm (Horowitz 2014). Compare ratios with care and"
    " never compare absolute numbers across estimators.",
    "The Loihi synaptic-operation cost (23.6 pJ) is a pre-silicon lower bound (Davies et al. 2018,"
    " Table 2); every neuron pays an update every time step, active or not.",
    "Latencies are wall-clock times on this computer (a simulator for the SNN, onnxruntime on"
    " the CPU for the ANN), not hardware latencies.",
]


# --------------------------------------------------------------------------------- measuring


def _ann_side(artifact, x, y, profile: str, precision: str) -> dict | None:
    """MACs, modeled energy, accuracy and latency of the artifact's ``baseline.onnx``."""
    if BASELINE_FILE not in artifact.manifest.get("files", {}):
        return None
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = artifact.file(BASELINE_FILE)
    rows = onnx_macs(path)
    energy = ann_energy(rows, precision, profile)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    models = {"fp32": str(path)}
    with tempfile.TemporaryDirectory() as tmp:
        quantised = Path(tmp) / "baseline_int8.onnx"
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # onnxruntime suggests pre-processing
        try:
            quantize_dynamic(str(path), str(quantised), weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(level)
        models["int8"] = str(quantised)
        out = {}
        xs = np.ascontiguousarray(x, dtype=np.float32)
        for name, file in models.items():
            try:
                session = ort.InferenceSession(file, options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ArtifactError(
                    f"{path}: onnxruntime cannot load the {name} model ({type(exc).__name__})"
                ) from None
            logits = session.run(["logits"], {"x": xs})[0]
            single = []
            for k in range(min(len(xs), 50)):  # batch-1 latency, median of up to 50 samples
                t0 = time.perf_counter()
                session.run(["logits"], {"x": xs[k : k + 1]})
                single.append(time.perf_counter() - t0)
            out[name] = {
                "accuracy": float((logits.argmax(1) == y).mean()),
                "latency_ms_batch1": 1e3 * statistics.median(single),
            }
    macs = int(sum(r["macs"] for r in rows))
    return {
        "kind": "modeled",
        "file": BASELINE_FILE,
        "macs_per_sample": macs,
        "layers": [{**r, "energy_pj": e} for r, e in zip(rows, energy["layers"])],
        "precision": precision,
        "profile": profile,
        "energy_pj_per_sample": energy["total"],
        "accuracy": out["fp32"]["accuracy"],
        "accuracy_int8": out["int8"]["accuracy"],
        "latency_ms_batch1": out["fp32"]["latency_ms_batch1"],
        "latency_ms_batch1_int8": out["int8"]["latency_ms_batch1"],
    }


def measure(
    artifact_dir: str | Path,
    backend: str = "sim",
    data: str | None = None,
    data_dir: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    profile: str = "loihi",
    ann_profile: str = "horowitz45",
    precision: str = "int8",
    progress: bool = False,
) -> tuple[dict, dict]:
    """Counts, modeled energy and accuracy of one artifact and its ANN baseline.

    Returns ``(entry, arrays)``: ``entry`` is JSON-ready (every number of the report), ``arrays``
    holds what the figures need (one sample's raster, per-step counts, per-neuron spikes)."""
    if backend not in ("torch", "sim", "lava"):
        raise ConfigError(f"modspike report: backend {backend!r}; choose torch, sim or lava")
    if precision not in ("int8", "fp32"):
        raise ConfigError(f"ANN precision {precision!r}; choose int8 or fp32")
    snn_prof = load_profile(profile, SNN_KEYS)  # fail on a bad profile before any work
    ann_prof = load_profile(ann_profile, (f"mac_{precision}",))
    artifact, net = open_artifact(artifact_dir)
    result, rasters = run_artifact(
        artifact_dir,
        backend=backend,
        data=data,
        data_dir=data_dir,
        limit=limit,
        seed=seed,
        progress=progress,
        keep_rasters=True,
    )
    bits = net.weight_format.bits if net.quantized else None
    inputs, outputs = rasters["inputs"], rasters["outputs"]
    per_step = count_layers(net, inputs, outputs, per_step=True)
    counts = sum_over_time(per_step)
    names = rasters["layers"]
    summary = summarize(counts, names)
    n = result["n_samples"]
    energy = snn_energy(counts, profile)
    per_sample = {k: v / n for k, v in energy["components"].items()}
    readout_macs = 0 if net.readout is None else int(np.asarray(net.readout.synapse.weight).size)
    mac_key = f"mac_{precision}"
    per_sample["readout"] = readout_macs * float(ann_prof["cost"][mac_key])
    snn_total = float(sum(per_sample.values()))
    ann = _ann_side(artifact, rasters["x"], np.asarray(result["labels"]), ann_profile, precision)
    entry = {
        "artifact": str(artifact_dir),
        "name": Path(artifact_dir).name,
        "cell": artifact.manifest.get("cell"),
        "layers": [f"{ly.name} ({ly.cell.kind.name}, {ly.n})" for ly in net.layers],
        "weight_bits": bits,
        "backend": backend,
        "data": result["data"],
        "n_samples": n,
        "steps": result["steps"],
        "accuracy": result["accuracy"],
        "manifest_accuracy": artifact.manifest.get("accuracy"),
        "input_spikes_per_sample": result["input_spikes_per_sample"],
        "counts": summary,
        "per_step_mean": {
            "spikes": [float(v) for v in sum(d["spikes"] for d in per_step).mean(1)],
            "synops": [float(v) for v in sum(d["effective"] for d in per_step).mean(1)],
        },
        "snn": {
            "kind": "modeled",
            "profile": snn_prof.get("name", str(profile)),
            "profile_source": snn_prof.get("source"),
            "costs_pj": snn_prof["cost"],
            "citations": snn_prof.get("citation", {}),
            "energy_pj_per_sample": snn_total,
            "components_pj_per_sample": per_sample,
            "layers_pj_per_sample": dict(zip(names, [e / n for e in energy["layers"]])),
            "readout_macs_per_sample": readout_macs,
            "readout_note": f"the readout on the time-summed output, {readout_macs} {precision}"
            f" MACs priced on {ann_prof.get('name', ann_profile)}",
            "latency_ms_per_sample": 1e3 * result["seconds"] / n,
            "latency_note": f"{backend} simulator wall time on this computer",
        },
        "ann": ann,
        "ratio_snn_over_ann": snn_total / ann["energy_pj_per_sample"] if ann else None,
    }
    first = [np.asarray(o[:, 0]) for o in outputs]
    arrays = {
        "raster_inputs": np.asarray(inputs[:, 0]),
        "raster_layers": first,
        "per_neuron_spikes": [(np.asarray(o) != 0).sum((0,)).mean(0) for o in outputs],
    }
    return entry, arrays


def build_report(
    artifacts: list[str | Path],
    out: str | Path,
    backend: str = "sim",
    data: str | None = None,
    data_dir: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    profile: str = "loihi",
    ann_profile: str = "horowitz45",
    precision: str = "int8",
    progress: bool = True,
) -> dict:
    """Measure every artifact and write ``out/{report.json, report.md, report.html}`` atomically."""
    if not artifacts:
        raise ConfigError("modspike report: give at least one ARTIFACT_DIR")
    load_profile(profile, SNN_KEYS)  # bad profiles fail before any run
    load_profile(ann_profile, (f"mac_{precision}",))
    for a in artifacts:
        if not Path(a).is_dir():
            raise ArtifactError(f"{a}: no such artifact folder")
    entries, arrays = [], []
    bar = tqdm(artifacts, desc="report", unit="artifact", disable=not progress)
    for a in bar:
        bar.set_postfix_str(Path(a).name)
        e, arr = measure(
            a, backend, data, data_dir, limit, seed, profile, ann_profile, precision, progress
        )
        entries.append(e)
        arrays.append(arr)
    report = {
        "kind": "modeled",
        "backend": backend,
        "profile": profile,
        "ann_profile": ann_profile,
        "ann_precision": precision,
        "precision_matched": precision == "int8",
        "artifacts": entries,
        "caveats": CAVEATS,
    }
    figs = figures(entries, arrays)
    with atomic_directory(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; a report is meant to be shared
        write_json(tmp / "report.json", report)
        (tmp / "report.md").write_text(markdown(report))
        (tmp / "report.html").write_text(html_page(report, figs))
    return report
