"""``modspike report``: the modeled cost report."""

from __future__ import annotations

import argparse
import json

from .options import COUNT, SEED, add_out

NAME = "report"
HELP = "modeled cost of artifacts: counts, energy vs the ANN baseline, figures"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help=HELP,
        description=(
            "Run each ARTIFACT_DIR (sim by default; lava gives identical counts), count spikes and"
            " synaptic operations per layer, sample and step, price them on an energy profile and"
            " compare with the artifact's baseline.onnx ANN (int8 MACs, accuracy and latency via"
            " onnxruntime). Writes REPORT_DIR/{report.json, report.md, report.html}. Every energy"
            " is modeled, not measured (docs/energy.md)."
        ),
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT_DIR")
    p.add_argument("--backend", choices=("sim", "lava", "torch"), default="sim")
    p.add_argument("--data", help="data set (default: the one named in the manifest)")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist / fashion-mnist)")
    p.add_argument("--limit", type=COUNT, metavar="N", help="the first N test samples only")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the input spikes (default: 0)")
    p.add_argument(
        "--profile",
        default="loihi",
        help="SNN energy profile: loihi, spinnaker2_proto28, seneca_22nm or a TOML path (default: loihi)",
    )
    p.add_argument(
        "--ann-profile",
        default="horowitz45",
        help="ANN energy profile: a name or TOML path with mac_int8 / mac_fp32 (default: horowitz45)",
    )
    p.add_argument(
        "--ann-precision",
        choices=("int8", "fp32"),
        default="int8",
        help="price the ANN's MACs at int8 (precision-matched with 8-bit SNN weights) or fp32",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(
        p,
        "REPORT_DIR",
        "report folder to write",
        sources=lambda a: (*a.artifacts, *_paths(a.profile, a.ann_profile)),
        protects=lambda a: (a.data_dir,),
    )
    p.set_defaults(func=run)


def _paths(*names: str) -> list[str]:
    """The profile options that name files (not built-in profiles)."""
    return [n for n in names if n and ("/" in n or n.endswith(".toml"))]


def run(args: argparse.Namespace) -> int:
    from modspike.runtime.report import build_report

    report = build_report(
        args.artifacts,
        args.out,
        backend=args.backend,
        data=args.data,
        data_dir=args.data_dir,
        limit=args.limit,
        seed=args.seed,
        profile=args.profile,
        ann_profile=args.ann_profile,
        precision=args.ann_precision,
        progress=not args.quiet,
    )
    rows = [
        {
            "artifact": e["artifact"],
            "accuracy": e["accuracy"],
            "snn_pj_per_inference": e["snn"]["energy_pj_per_sample"],
            "ann_pj_per_inference": e["ann"]["energy_pj_per_sample"] if e["ann"] else None,
            "ratio_snn_over_ann": e["ratio_snn_over_ann"],
        }
        for e in report["artifacts"]
    ]
    print(json.dumps({"report_dir": args.out, "kind": report["kind"], "artifacts": rows}))
    return 0
