"""End to end on digits: train -> 8-bit artifact -> sim and Lava -> counts -> modeled energy vs ANN.

For LIF, SRC and mSRC (T = 25, 64 hidden, seed 0, the trainer's defaults: 30 epochs, lr 5e-3)
and the ANN baseline (64 hidden, 100 epochs, lr 3e-3, as ``benchmarks/accuracy.py``):

* train with ``modspike.train.trainer.train`` and export with ``export_run`` (8 bits, per-layer
  exponent, ``--baseline`` the ANN), exactly what ``modspike train`` / ``modspike export`` do;
* float accuracy: the export's float network on the test split (``manifest.accuracy.float``);
* deployed accuracy on ``sim`` and on ``lava`` (the whole 360-sample test split in ONE Lava run
  per model), with ``modspike.runtime.report.measure``; both backends see the same input spikes
  and the script checks that their per-layer counts are identical;
* spikes and synaptic operations per sample, modeled energy per inference on the ``loihi``
  profile, the int8 ANN's (``horowitz45``, MACs of ``baseline.onnx``) and the ratio.

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

from modspike.export.artifact_build import export_run
from modspike.runtime.report import measure
from modspike.train.trainer import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## End-to-end cost (modeled)"
CELLS = ("lif", "src", "msrc")
STEPS, HIDDEN, SEED = 25, 64, 0


def _train(cell: str, out: Path, quick: bool) -> dict:
    kw = dict(cell=cell, steps=STEPS, hidden=HIDDEN, seed=SEED, device="cpu")
    if cell == "ann":
        kw.update(epochs=10 if quick else 100, lr=3e-3)
    elif quick:
        kw.update(epochs=3)
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
                entry, _ = measure(art, backend=backend, limit=limit, profile="loihi")
                entry["wall_seconds"] = time.perf_counter() - t0
                got[backend] = entry
            sim, lava = got["sim"], got["lava"]
            same = sim["counts"] == lava["counts"]
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
                "snn_energy_nj": sim["snn"]["energy_pj_per_sample"] / 1e3,
                "snn_energy_components_nj": {
                    k: v / 1e3 for k, v in sim["snn"]["components_pj_per_sample"].items()
                },
                "ann_accuracy_fp32": sim["ann"]["accuracy"],
                "ann_accuracy_int8": sim["ann"]["accuracy_int8"],
                "ann_macs": sim["ann"]["macs_per_sample"],
                "ann_energy_nj": sim["ann"]["energy_pj_per_sample"] / 1e3,
                "ratio_snn_over_ann": sim["ratio_snn_over_ann"],
                "lava_seconds": lava["snn"]["latency_ms_per_sample"] * lava["n_samples"] / 1e3,
                "lava_wall_seconds": lava["wall_seconds"],
            }
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("cell", "sim_accuracy", "lava_accuracy")}))
    return {
        "what": "digits end to end: float / sim / Lava accuracy, counts, modeled energy vs int8 ANN",
        "kind": "modeled",
        "profile": "loihi (Davies 2018 Table 2)",
        "ann_profile": "horowitz45 int8 MAC 0.23 pJ (Horowitz 2014)",
        "config": {"steps": STEPS, "hidden": HIDDEN, "seed": SEED, "bits": 8, "quick": quick},
        "ann_trained_test_accuracy": ann["test_accuracy"],
        "machine": {"python": platform.python_version(), "torch": torch.__version__},
        "rows": rows,
    }


def markdown(res: dict) -> str:
    head = (
        "| cell | float acc. | sim acc. | Lava acc. | spikes / sample | synops / sample"
        " | SNN nJ (loihi) | int8 ANN acc. | ANN nJ (int8) | SNN / ANN |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['cell']} | {r['float_accuracy']:.3f} | {r['sim_accuracy']:.3f} |"
        f" {r['lava_accuracy']:.3f} | {r['spikes_per_sample']:.0f} | {r['synops_per_sample']:.0f}"
        f" | {r['snn_energy_nj']:.0f} | {r['ann_accuracy_int8']:.3f} | {r['ann_energy_nj']:.2f}"
        f" | {r['ratio_snn_over_ann']:.0f}x |\n"
        for r in res["rows"]
    )
    n = res["rows"][0]["n_samples"] if res["rows"] else 0
    return (
        f"Digits test split ({n} samples), T = {STEPS}, 64 hidden, seed 0, 8-bit weights; modeled"
        " energy per inference: SNN on the Loihi profile (synops 23.6 pJ, neuron update 81 / 52"
        " pJ, spike 1.7 pJ; readout as int8 MACs), ANN = the artifact's baseline.onnx priced at"
        " 0.23 pJ per int8 MAC. sim and Lava counts are identical for every model. Static power"
        " and memory traffic are not modeled. Float accuracy is the export's check of the float"
        " network (its own input draw); sim / Lava use input seed 0, hence small differences.\n\n"
        + head
        + body
    )


def update_readme(table: str, readme: Path = README) -> None:
    """Replace the README's section (from its heading to the next ``## `` heading) or add it
    before ``## Status``."""
    body = (
        f"{SECTION}\n\n{table}\nCommand: `nice -n 10 .venv/bin/python benchmarks/end_to_end.py`"
        " (`make bench`, ~5 min on 2 cores); raw numbers in"
        " `benchmarks/results/end_to_end.json`. One artifact in detail, with figures:"
        " `modspike report ARTIFACT_DIR --out REPORT_DIR` (`make demo` ends with it). What is and"
        " is not modeled: [docs/energy.md](docs/energy.md).\n\n"
    )
    lines = readme.read_text().splitlines(keepends=True)
    start = next((k for k, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        at = next((k for k, line in enumerate(lines) if line.rstrip() == "## Status"), len(lines))
        lines[at:at] = [body]
    else:
        end = next(
            (k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines)
        )
        lines[start:end] = [body]
    readme.write_text("".join(lines))


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
