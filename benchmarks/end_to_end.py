"""End to end on digits: train -> 8-bit artifact -> sim and Lava -> counts -> modeled energy vs ANN.

For LIF, SRC, mSRC and IF (T = 25, 64 hidden, seed 0, the trainer's defaults: 30 epochs, lr
5e-3) and the ANN baseline (64 hidden, the trainer's ANN default: 200 epochs, lr 1e-3):

* train with ``modspike.train.trainer.train`` and export with ``export_run`` (8 bits, per-layer
  exponent, ``--baseline`` the ANN), exactly what ``modspike train`` / ``modspike export`` do;
* float accuracy: the export's float network on the test split (``manifest.accuracy.float``);
* deployed accuracy on ``sim`` and on ``lava`` (the whole 360-sample test split in ONE Lava run
  per model), with ``modspike.runtime.report.measure``; both backends see the same input spikes
  and the script checks that their per-layer counts are identical;
* spikes and synaptic operations per sample, and the energy tiers of ``modspike report``: the
  deployed tier (SNN and the static int8 ANN on one technology, ``horowitz45``, low / central /
  high band, dense and zero-skipping ANN, the dominating term), the Lemaire tier (SpikingJelly
  2.0.0's model, its own ratio) and the platform tier (Loihi's published figures, core scope: no
  ratio with any ANN figure). No number is divided across tiers.

Writes ``benchmarks/results/end_to_end.json`` and ``.md`` and rewrites the ``## End-to-end cost``
section of the top-level README (that section only; ``--readme-only`` redoes it from the saved
results). Everything is modeled (see
``docs/energy.md`` for the caveats). ``--quick``: 3 epochs, 60 samples, results under
``benchmarks/results/quick/``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from readme_section import replace_section

from modspike.export.artifact_build import export_run
from modspike.runtime.report import measure
from modspike.train.trainer import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## End-to-end cost (modeled)"
CELLS = ("lif", "src", "msrc", "if")
STEPS, HIDDEN, SEED = 25, 64, 0


def _train(cell: str, out: Path, quick: bool) -> dict:
    kw = dict(cell=cell, steps=STEPS, hidden=HIDDEN, seed=SEED, device="cpu")
    if quick:
        kw.update(epochs=10 if cell == "ann" else 3)
    t0 = time.perf_counter()
    _, metrics = train(TrainConfig(**kw), out=out, progress=False)
    return {"test_accuracy": metrics["test_accuracy"], "seconds": time.perf_counter() - t0}


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    limit = 60 if quick else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ann = _train("ann", tmp / "ann", quick)
        print(f"ann: trained, test accuracy {ann['test_accuracy']:.3f}", file=sys.stderr)
        for cell in CELLS:
            trained = _train(cell, tmp / cell, quick)
            art = tmp / f"{cell}_artifact"
            exported = export_run(tmp / cell, art, 8, "layer", tmp / "ann")
            got = {}
            for backend in ("sim", "lava"):
                t0 = time.perf_counter()
                entry, _ = measure(art, backend=backend, limit=limit)
                entry["wall_seconds"] = time.perf_counter() - t0
                got[backend] = entry
            sim, lava = got["sim"], got["lava"]
            same = sim["counts"] == lava["counts"] and sim["tiers"] == lava["tiers"]
            if not same:
                raise SystemExit(f"{cell}: sim and Lava counts differ")
            c = sim["counts"]["per_sample"]
            row = {
                "cell": cell,
                "trained_test_accuracy": trained["test_accuracy"],
                "train_seconds": trained["seconds"],
                "float_accuracy": exported["float_accuracy"],
                "sim_accuracy": sim["accuracy"],
                "lava_accuracy": lava["accuracy"],
                "sim_equals_lava_counts": same,
                "n_samples": sim["n_samples"],
                "input_spikes_per_sample": sim["input_spikes_per_sample"],
                "spikes_per_sample": c["spikes"],
                "synops_per_sample": c["effective"],
                "synops_acs": c["effective_acs"],
                "synops_macs": c["effective_macs"],
                "dense_synops_per_sample": c["dense"],
                "activation_sparsity": c["activation_sparsity"],
                "snn_energy_nj": {b: v / 1e3 for b, v in sim["snn"]["energy_pj_band"].items()},
                "snn_components_nj": {
                    k: v / 1e3 for k, v in sim["snn"]["components_pj_per_sample"].items()
                },
                "snn_dominant": sim["snn"]["dominant"],
                "ann_accuracy_fp32": sim["ann"]["accuracy"],
                "ann_accuracy_int8": sim["ann"]["accuracy_int8"],
                "ann_macs": sim["ann"]["macs_per_sample"],
                "ann_energy_nj": {
                    v: {b: e / 1e3 for b, e in band.items()}
                    for v, band in sim["ann"]["energy_pj_band"].items()
                },
                "ratios_deployed": sim["ratios_deployed"],
                "ratio_snn_over_ann": sim["ratio_snn_over_ann"],
                "lemaire_nj": {
                    "snn": sim["tiers"]["lemaire"]["snn"]["energy_pj"] / 1e3,
                    "ann": sim["tiers"]["lemaire"]["ann"]["energy_pj"] / 1e3,
                    "ratio": sim["tiers"]["lemaire"]["ratio"]["ratio"],
                },
                "platform_nj": {
                    r["constant_set"]: r["energy_pj"] / 1e3
                    for r in sim["tiers"]["platform"]["snn"] + sim["tiers"]["platform"]["ann"]
                },
                "break_even": {
                    "t_max": sim["tiers"]["deployed"]["break_even"]["t_max"],
                    "input_events": sim["tiers"]["deployed"]["break_even"][
                        "break_even_input_events"
                    ],
                },
                "lava_seconds": lava["snn"]["latency_ms_per_sample"] * lava["n_samples"] / 1e3,
                "lava_wall_seconds": lava["wall_seconds"],
            }
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("cell", "sim_accuracy", "lava_accuracy")}))
    return {
        "what": "digits end to end: float / sim / Lava accuracy, counts, energy tiers vs int8 ANN",
        "kind": "modeled",
        "headline_tier": "deployed (horowitz45, one technology for SNN and ANN)",
        "platform_profiles": "loihi, seneca_22nm, truenorth_28nm (SNN); simba_16nm (ANN)",
        "config": {"steps": STEPS, "hidden": HIDDEN, "seed": SEED, "bits": 8, "quick": quick},
        "ann_trained_test_accuracy": ann["test_accuracy"],
        "machine": {"python": platform.python_version(), "torch": torch.__version__},
        "rows": rows,
    }


def markdown(res: dict) -> str:
    head = (
        "| cell | float acc. | sim acc. | Lava acc. | spikes / sample | synops / sample"
        " | SNN nJ, deployed (low-high) | int8 ANN acc. | int8 ANN nJ, dense (low-high)"
        " | SNN / ANN dense (low-high) | SNN / ANN zero-skip | Lemaire SNN / ANN"
        " | dominant term (SNN) | Loihi nJ (platform) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )

    def band(b):
        return f"{b['central']:.1f} ({b['low']:.1f}-{b['high']:.1f})"

    body = ""
    for r in res["rows"]:
        rd, rz = r["ratios_deployed"]["int8_dense"], r["ratios_deployed"]["int8_zero_skip"]
        dom = r["snn_dominant"]
        body += (
            f"| {r['cell']} | {r['float_accuracy']:.3f} | {r['sim_accuracy']:.3f} |"
            f" {r['lava_accuracy']:.3f} | {r['spikes_per_sample']:.0f}"
            f" | {r['synops_per_sample']:.0f} | {band(r['snn_energy_nj'])}"
            f" | {r['ann_accuracy_int8']:.3f} | {band(r['ann_energy_nj']['int8_dense'])}"
            f" | {rd['central']:.1f}x ({rd['low']:.1f}-{rd['high']:.1f}x)"
            f" | {rz['central']:.1f}x | {r['lemaire_nj']['ratio']:.2f}x"
            f" | {dom['part']} ({100 * dom['share']:.0f} %) | {r['platform_nj']['loihi']:.0f} |\n"
        )
    n = res["rows"][0]["n_samples"] if res["rows"] else 0
    return (
        f"Digits test split ({n} samples), T = {STEPS}, 64 hidden, seed 0, 8-bit weights, rate"
        " code; modeled energy per inference in three tiers that are never divided by each"
        " other. **Deployed** (the headline): SNN and the artifact's baseline ANN, statically"
        " quantised to int8, on one technology (Horowitz 45 nm), weight, state and accumulator"
        " memory priced by buffer size, readout and encoder included; central band, low-high in"
        " brackets. **Lemaire**: SpikingJelly 2.0.0's model, its own ratio. **Platform**: the"
        " SNN's counts on Loihi's published per-event figures (core, 14 nm): no ratio, no ANN"
        " figure of that scope exists. sim and Lava counts are identical for every model. Float"
        " accuracy is the export's check of the float network (its own input draw); sim / Lava"
        " use input seed 0.\n\n" + head + body
    )


def update_readme(table: str, readme: Path = README) -> None:
    """Replace the README's section (from its heading to the next ``## `` heading) or add it
    before ``## Status``."""
    body = (
        f"{table}\nCommand: `nice -n 10 .venv/bin/python benchmarks/end_to_end.py`"
        " (`make bench`, ~10 min on 2 cores); raw numbers in"
        " `benchmarks/results/end_to_end.json`. One artifact in detail, with figures:"
        " `modspike report ARTIFACT_DIR --out REPORT_DIR` (`make demo` ends with it). What is and"
        " is not modeled: [docs/energy.md](docs/energy.md),"
        " [docs/energy-model.md](docs/energy-model.md).\n\n"
    )
    replace_section(readme, SECTION, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args(argv)
    out = RESULTS / "quick" if args.quick else RESULTS
    if args.readme_only:
        res = json.loads((out / "end_to_end.json").read_text())
    else:
        res = run(args.quick)
        out.mkdir(parents=True, exist_ok=True)
        (out / "end_to_end.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "end_to_end.md").write_text(markdown(res))
    print(markdown(res))
    if not args.quick:
        update_readme(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
