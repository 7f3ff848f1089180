"""``modspike report``: what one or more artifacts cost, in four energy tiers, next to their ANN.

For each artifact: run it (``modspike.hw.run_artifact``, backend ``sim`` by default, ``lava``
gives identical counts) keeping the rasters; count per layer (NeuroBench-exact counters of
:mod:`runtime.counters`, plus input events, synaptic events with dense storage, neuron updates and
state traffic from :mod:`runtime.energy_network`, whose layer facts come from the network's memory
model); read the artifact's ``baseline.onnx`` ANN and quantise it statically to int8 and to
``ceil(log2(T + 1))``-bit activations (:mod:`runtime.ann_int8`: the accuracy paired with each
price is that network's); then price both sides in the four tiers (:mod:`runtime.energy_report`):
counts, Lemaire (SpikingJelly 2.0.0), deployed (the headline: one technology for both sides,
low / central / high band) and platform (published per-event figures; ratios across scopes
refused). Tiers are never divided by each other.

The report folder holds ``report.json`` (every number and every constant with its source),
``report.md`` (tables) and a self-contained ``report.html`` (figures as base64 PNG). It is
written to a temporary folder and renamed, so a failed report leaves nothing behind. Everything
is **modeled**; the caveats go in every report.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from modspike.data import load_dataset
from modspike.encoding import static_view
from modspike.errors import ArtifactError, ConfigError, EnergyProfileError
from modspike.export.artifact_build import open_artifact
from modspike.hw.run_artifact import input_options, run_artifact
from modspike.network import Integration
from modspike.rundir import atomic_directory, write_json
from modspike.runtime.ann_int8 import evaluate_quantized, load_mlp, quantize_mlp
from modspike.runtime.counters import count_layers, sum_over_time, summarize
from modspike.runtime.energy import SNN_KEYS, load_profile
from modspike.runtime.energy_facts import low_bit_activation_bits
from modspike.runtime.energy_network import (
    TierUnavailable,
    encoding_name,
    layer_facts,
    mean_counts,
    readout_facts,
    spiking_counts,
)
from modspike.runtime.energy_report import (
    TimeBase,
    constants_table,
    platform_block,
    price_tiers,
    strip_private,
)
from modspike.runtime.energy_tech import BAND_NAMES
from modspike.runtime.report_render import figures, html_page, markdown

REPORT_FILES = ("report.json", "report.md", "report.html")
BASELINE_FILE = "baseline.onnx"
CALIBRATION_SAMPLES = 1000
DEFAULT_PLATFORMS = "loihi,seneca_22nm,truenorth_28nm"
DEFAULT_ANN_PLATFORMS = "simba_16nm"
TIER_RULE = (
    "Four tiers, never divided across each other: counts, Lemaire (SpikingJelly 2.0.0), deployed"
    " (one technology for SNN and ANN: the headline) and platform (published per-event figures)."
    " A ratio takes two results of one tier and one constant set; in the platform tier the two"
    " scopes must match."
)

CAVEATS = [
    "Modeled, not measured: every energy here is a count of operations and memory accesses times"
    " a cost taken from a published table or an assumption of the energy model (each constant and"
    " its source is in report.json). Nothing was run on a chip or read from a power meter.",
    "The headline is the deployed tier: the SNN and the ANN at their deployed bit widths on one"
    " technology (Horowitz, ISSCC 2014, 45 nm, 0.9 V; secondary transcriptions), with weight,"
    " state and accumulator memory priced by buffer size. Its band (low / central / high) spans"
    " the SRAM price factor and buffer floor, which are assumptions of the energy model.",
    "Memory traffic is priced in the deployed and Lemaire tiers on both sides; the platform tier"
    " prices only the counts each chip's published figures name (Loihi: synaptic ops, neuron"
    " updates, spikes), so its totals leave the readout and the encoder out (listed in its notes).",
    "Static (leakage) power is 0 in the deployed tier unless --static-power is given with a time"
    " base (--step-time, --mac-rate); then P x t is added to both sides and the flip power, at"
    " which the ordering reverses, is reported. On real neuromorphic boards static power"
    " dominates: Intel's Loihi 2 PilotNet measurement shows 0.282 W static.",
    "Platform figures come from different chips, scopes and process nodes; a ratio across scopes"
    " (core vs chip) is refused, across process nodes it is flagged. Loihi's 23.6 pJ is a"
    " pre-silicon minimum per synaptic operation (Davies et al. 2018, Table 2).",
    "The int8 ANN's accuracy is that of the static integer network priced here (post-training"
    " quantisation calibrated on the training split, runtime/ann_int8.py); the low-bit ANN is"
    " quantised the same way (no retraining), so its accuracy is a lower bound.",
    "Latencies are wall-clock times on this computer (a simulator for the SNN, onnxruntime on"
    " the CPU for the ANN), not hardware latencies.",
]


def parse_profiles(text: str | None, default: str) -> list[str]:
    """A comma-separated list of profile names or TOML paths."""
    names = [p.strip() for p in (text or default).split(",") if p.strip()]
    if not names:
        raise ConfigError("give at least one energy profile")
    return list(dict.fromkeys(names))


def check_platform_profile(name: str) -> str:
    """Load a platform profile (failing early, in one line); returns ``name``."""
    prof = load_profile(name)
    if prof.get("schema") is None:
        load_profile(name, SNN_KEYS)  # an incomplete one names its missing neuron cost first
        raise EnergyProfileError(
            f"energy profile {name} is a version-1 profile: the platform tier needs schema"
            " modspike-energy-profile/2 with a scope and a count per figure (docs/energy-model.md)"
        )
    if prof.get("tier") != "platform":
        hint = " (pass it as --technology)" if prof.get("tier") == "deployed" else ""
        raise EnergyProfileError(
            f"energy profile {name} is a {prof.get('tier')}-tier profile, not a platform profile"
            + hint
        )
    return name


def check_technology(name: str) -> None:
    prof = load_profile(name)
    if prof.get("tier") != "deployed":
        raise EnergyProfileError(f"energy profile {name} is not a deployed-tier technology")


# --------------------------------------------------------------------------------- measuring


def _training_split(artifact, data: str | None, data_dir: str | None) -> np.ndarray:
    """Calibration intensities of the int8 ANN: the artifact's training split."""
    recorded = artifact.manifest.get("data")
    recorded = recorded if isinstance(recorded, dict) else {"name": recorded or "digits"}
    name = data or recorded.get("name", "digits")
    split_seed = int(recorded.get("split_seed", 0)) if name == recorded.get("name") else 0
    options = input_options(artifact.manifest)  # event data: binned as the artifact was
    x = load_dataset(name, data_dir, split_seed, options, ("train",)).x_train
    return np.asarray(static_view(x[:CALIBRATION_SAMPLES]), dtype=np.float64)


def _onnx_fp32(path: Path, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and batch-1 latency of the exported float model (onnxruntime, CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    level = logging.getLogger().level
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ArtifactError(
            f"{path}: onnxruntime cannot load the model ({type(exc).__name__})"
        ) from None
    finally:
        logging.getLogger().setLevel(level)
    xs = np.ascontiguousarray(x, dtype=np.float32)
    logits = session.run(["logits"], {"x": xs})[0]
    single = []
    for k in range(min(len(xs), 50)):  # batch-1 latency, median of up to 50 samples
        t0 = time.perf_counter()
        session.run(["logits"], {"x": xs[k : k + 1]})
        single.append(time.perf_counter() - t0)
    return {
        "accuracy": float((logits.argmax(1) == y).mean()),
        "latency_ms_batch1": 1e3 * statistics.median(single) if single else None,
    }


def _ann_side(artifact, x, y, steps: int, data, data_dir) -> dict | None:
    """The baseline ANN: float accuracy (onnxruntime), the static int8 and low-bit networks'
    accuracy and non-zero inputs per layer, layer facts."""
    if BASELINE_FILE not in artifact.manifest.get("files", {}):
        return None
    path = artifact.file(BASELINE_FILE)
    x_cal = _training_split(artifact, data, data_dir)
    x = static_view(np.asarray(x))  # event frames: the event-count image the ANN was trained on
    mlp = load_mlp(path)
    if mlp.n_in != x.shape[1]:
        raise ArtifactError(f"{path}: {mlp.n_in} inputs, the data has {x.shape[1]}")
    fp32 = _onnx_fp32(path, x, y)
    q8 = evaluate_quantized(quantize_mlp(mlp, x_cal, 8), x, y)
    k = low_bit_activation_bits(steps)
    qk = evaluate_quantized(quantize_mlp(mlp, x_cal, k), x, y)
    facts = mlp.facts(8, 8)
    return {
        "kind": "modeled",
        "file": BASELINE_FILE,
        "layers": [{"n_in": f.n_in, "n_out": f.n_out, "bias": f.bias} for f in facts],
        "macs_per_sample": int(sum(f.dense_macs for f in facts)),
        "accuracy": fp32["accuracy"],
        "accuracy_int8": q8["accuracy"],
        "accuracy_low_bit": qk["accuracy"],
        "low_bit_activation_bits": k,
        "int8_method": "static post-training quantisation (per-layer symmetric int8 weights,"
        f" unsigned activations, clips calibrated on {len(x_cal)} training samples;"
        " runtime/ann_int8.py)",
        "nonzero_inputs_int8": q8["nonzero_inputs"],
        "nonzero_inputs_low_bit": qk["nonzero_inputs"],
        "latency_ms_batch1": fp32["latency_ms_batch1"],
        "_facts": facts,
    }


def _per_layer_rows(names, summary: dict, counts: list[dict], tier_counts: dict | None) -> dict:
    rows = {}
    for k, name in enumerate(names):
        row = dict(summary["layers"][name])
        row.update({key: float(v) for key, v in counts[k].items()})
        if tier_counts is not None:
            t = tier_counts["layers"][k]
            for key in ("state_read_bits", "state_write_bits", "accumulator_rmw"):
                row[key] = t[key]
            row["buffers_bytes"] = t["buffers_bytes"]
        rows[name] = row
    return rows


def measure(
    artifact_dir: str | Path,
    backend: str = "sim",
    data: str | None = None,
    data_dir: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    profile: str = DEFAULT_PLATFORMS,
    ann_profile: str = DEFAULT_ANN_PLATFORMS,
    precision: str = "int8",
    progress: bool = False,
    technology: str = "horowitz45",
    time_base: TimeBase | None = None,
) -> tuple[dict, dict]:
    """Counts, the four energy tiers and accuracy of one artifact and its ANN baseline.

    ``profile`` / ``ann_profile``: platform profiles (comma-separated) of the SNN and the ANN;
    ``technology``: the deployed tier's. Returns ``(entry, arrays)``: ``entry`` is JSON-ready,
    ``arrays`` holds what the figures need (one sample's raster, per-neuron activity, the
    in-memory tier results)."""
    if backend not in ("torch", "sim", "lava"):
        raise ConfigError(f"modspike report: backend {backend!r}; choose torch, sim or lava")
    if precision != "int8":
        raise ConfigError(
            f"ANN precision {precision!r}: the deployed tier prices integer networks, and an fp32"
            " ANN is not like for like with a fixed-point SNN; use int8 (the default)"
        )
    snn_profiles = [check_platform_profile(p) for p in parse_profiles(profile, DEFAULT_PLATFORMS)]
    ann_profiles = [
        check_platform_profile(p) for p in parse_profiles(ann_profile, DEFAULT_ANN_PLATFORMS)
    ]
    check_technology(technology)
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
    nb_counts = sum_over_time(per_step)
    names = rasters["layers"]
    summary = summarize(nb_counts, names)
    n = result["n_samples"]
    steps = int(result["steps"])
    encoding, enc_note = encoding_name(net)
    labels = np.asarray(result["labels"])
    ann = _ann_side(artifact, rasters["x"], labels, steps, data, data_dir)
    notes = [enc_note] if enc_note else []
    if net.readout is not None and net.readout.integration is not Integration.SUM_OVER_TIME:
        notes.append("the readout integrates per step; it is priced as one readout of the time sum")
    try:
        facts = layer_facts(net)
        counts = mean_counts(spiking_counts(net, inputs, outputs))
        tiers = price_tiers(
            facts,
            counts,
            summary["per_sample"],
            steps=steps,
            encoding=encoding,
            readout=readout_facts(net),
            ann_layers=None if ann is None else ann["_facts"],
            ann_nonzero=None if ann is None else ann["nonzero_inputs_int8"],
            ann_low_bit_nonzero=None if ann is None else ann["nonzero_inputs_low_bit"],
            technology_profile=technology,
            snn_platforms=snn_profiles,
            ann_platforms=ann_profiles if ann is not None else (),
            time=time_base,
            notes=notes,
        )
    except (TierUnavailable, EnergyProfileError) as exc:
        # a network the Lemaire and deployed tiers cannot price (a convolution, a cell kind
        # without operation counts in the technology): say so, keep the counts and the platform
        counts = [{} for _ in names]
        ann_totals = None
        if ann is not None:
            ann_totals = {
                "macs_dense": float(sum(f.dense_macs for f in ann["_facts"])),
                "macs_zero_skip": float(
                    sum(
                        f.dense_macs * nz / f.n_in
                        for f, nz in zip(ann["_facts"], ann["nonzero_inputs_int8"])
                    )
                ),
            }
        tiers = {
            "counts": {"neurobench_per_sample": summary["per_sample"]},
            "lemaire": {"unavailable": str(exc)},
            "deployed": {"unavailable": str(exc)},
            "platform": platform_block(
                summary["per_sample"], snn_profiles, ann_totals, ann_profiles if ann else ()
            ),
            "_energies": None,
        }
    energies = tiers.get("_energies")
    deployed = tiers["deployed"]
    snn_block: dict = {
        "kind": "modeled",
        "tier": "deployed",
        "technology": technology,
        "latency_ms_per_sample": 1e3 * result["seconds"] / n,
        "latency_note": f"{backend} simulator wall time on this computer",
    }
    ratio = None
    ratios: dict = {}
    if energies is not None:
        central = energies["snn"]["central"]
        snn_block.update(
            {
                "constant_set": central.constant_set,
                "label": central.label,
                "energy_pj_per_sample": central.total_pj,
                "energy_pj_band": {b: energies["snn"][b].total_pj for b in BAND_NAMES},
                "components_pj_per_sample": central.components(),
                "components_pj_band": {b: energies["snn"][b].components() for b in BAND_NAMES},
                "dominant": central.dominant(),
            }
        )
        for v, rows in deployed["ratios"].items():
            ratios[v] = {b: rows[b]["ratio"] for b in BAND_NAMES}
        if "int8_dense" in ratios:
            ratio = ratios["int8_dense"]["central"]
    else:
        snn_block["energy_pj_per_sample"] = None
    ann_block = None
    if ann is not None:
        ann_block = {k: v for k, v in ann.items() if not k.startswith("_")}
        if energies is not None:
            band = energies["ann"]
            ann_block.update(
                {
                    "energy_pj_per_sample": band["int8_dense"]["central"].total_pj,
                    "energy_pj_band": {
                        v: {b: band[v][b].total_pj for b in BAND_NAMES} for v in band
                    },
                    "components_pj_per_sample": {v: band[v]["central"].components() for v in band},
                    "dominant": {v: band[v]["central"].dominant() for v in band},
                }
            )
    tier_counts = tiers["counts"].get("snn")
    entry = {
        "artifact": str(artifact_dir),
        "name": Path(artifact_dir).name,
        "cell": artifact.manifest.get("cell"),
        "layers": [f"{ly.name} ({ly.cell.kind.name}, {ly.n})" for ly in net.layers],
        "weight_bits": bits,
        "backend": backend,
        "data": result["data"],
        "n_samples": n,
        "steps": steps,
        "encoding": encoding,
        "accuracy": result["accuracy"],
        "manifest_accuracy": artifact.manifest.get("accuracy"),
        "input_spikes_per_sample": result["input_spikes_per_sample"],
        "counts": {
            "per_sample": summary["per_sample"],
            "layers": _per_layer_rows(names, summary, counts, tier_counts),
        },
        "per_step_mean": {
            "spikes": [float(v) for v in sum(d["spikes"] for d in per_step).mean(1)],
            "synops": [float(v) for v in sum(d["effective"] for d in per_step).mean(1)],
        },
        "snn": snn_block,
        "ann": ann_block,
        "ratio_snn_over_ann": ratio,
        "ratio_tier": "deployed, central band, SNN / int8 ANN dense (same constant set)",
        "ratios_deployed": ratios,
        "tiers": strip_private(tiers),
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
    profile: str = DEFAULT_PLATFORMS,
    ann_profile: str = DEFAULT_ANN_PLATFORMS,
    precision: str = "int8",
    progress: bool = True,
    technology: str = "horowitz45",
    time_base: TimeBase | None = None,
) -> dict:
    """Measure every artifact and write ``out/{report.json, report.md, report.html}`` atomically."""
    if not artifacts:
        raise ConfigError("modspike report: give at least one ARTIFACT_DIR")
    snn_profiles = [check_platform_profile(p) for p in parse_profiles(profile, DEFAULT_PLATFORMS)]
    ann_profiles = [
        check_platform_profile(p) for p in parse_profiles(ann_profile, DEFAULT_ANN_PLATFORMS)
    ]
    check_technology(technology)
    if precision != "int8":
        raise ConfigError(
            f"ANN precision {precision!r}: the deployed tier prices integer networks, and an fp32"
            " ANN is not like for like with a fixed-point SNN; use int8 (the default)"
        )
    if time_base is not None and time_base.static_w > 0 and not time_base.given:
        raise ConfigError("--static-power needs a time base: give --step-time and --mac-rate")
    for a in artifacts:
        if not Path(a).is_dir():
            raise ArtifactError(f"{a}: no such artifact folder")
    entries, arrays = [], []
    bar = tqdm(artifacts, desc="report", unit="artifact", disable=not progress)
    for a in bar:
        bar.set_postfix_str(Path(a).name)
        e, arr = measure(
            a,
            backend,
            data,
            data_dir,
            limit,
            seed,
            profile,
            ann_profile,
            precision,
            progress,
            technology,
            time_base,
        )
        entries.append(e)
        arrays.append(arr)
    report = {
        "kind": "modeled",
        "backend": backend,
        "headline_tier": "deployed",
        "tier_rule": TIER_RULE,
        "technology": technology,
        "profile": ",".join(snn_profiles),
        "ann_profile": ",".join(ann_profiles),
        "ann_precision": precision,
        "precision_matched": True,
        "constants": constants_table([technology, "lemaire_sj200", *snn_profiles, *ann_profiles]),
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
