"""``modspike report``: the modeled cost report."""

from __future__ import annotations

import argparse
import json

from modspike import validate as v

from .options import COUNT, SEED, add_out

NAME = "report"
HELP = "modeled cost of artifacts in four energy tiers, vs the ANN baseline, with figures"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help=HELP,
        description=(
            "Run each ARTIFACT_DIR (sim by default; lava gives identical counts), count events per"
            " layer, sample and step, and price them next to the artifact's baseline.onnx ANN in"
            " four tiers that are never divided across each other: counts; Lemaire"
            " (SpikingJelly 2.0.0's model); deployed, the headline (SNN and ANN at their deployed"
            " bit widths on ONE technology, memory included, a low / central / high band, the"
            " dominating term, energy vs input events with the break-even and the largest T that"
            " can break even); platform (published per-event figures of chips; a ratio across"
            " scopes is refused). The ANN is priced dense, zero-skipping and at"
            " ceil(log2(T+1))-bit activations, each with the accuracy of that static integer"
            " network. Writes REPORT_DIR/{report.json, report.md, report.html}; report.json holds"
            " every number and every constant with its source. Everything is modeled, not"
            " measured (docs/energy-model.md)."
        ),
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT_DIR")
    p.add_argument("--backend", choices=("sim", "lava", "torch"), default="sim")
    p.add_argument("--data", help="data set (default: the one named in the manifest)")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist / fashion-mnist)")
    p.add_argument("--limit", type=COUNT, metavar="N", help="the first N test samples only")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the input spikes (default: 0)")
    p.add_argument(
        "--technology",
        default="horowitz45",
        help="deployed-tier technology, pricing BOTH sides: a name or TOML path (default:"
        " horowitz45, 45 nm)",
    )
    p.add_argument(
        "--profile",
        default="loihi,seneca_22nm,truenorth_28nm",
        help="platform-tier profiles of the SNN, comma-separated names or TOML paths (default:"
        " loihi,seneca_22nm,truenorth_28nm; also spinnaker2_proto28)",
    )
    p.add_argument(
        "--ann-profile",
        default="simba_16nm",
        help="platform-tier profiles of the ANN, comma-separated (default: simba_16nm, chip"
        " scope: its ratio with a core-scope SNN profile is refused)",
    )
    p.add_argument(
        "--ann-precision",
        choices=("int8", "fp32"),
        default="int8",
        help="the ANN's deployed precision: int8 (the only one priced; fp32 is refused, it is not"
        " like for like with a fixed-point SNN)",
    )
    p.add_argument(
        "--step-time",
        type=v.float_option(0.0, 1.0, lo_open=True),
        metavar="S",
        help="hardware time of one SNN step in seconds: with --mac-rate, a time base (t = T x S),"
        " energy-delay products and the static power at which the ordering flips",
    )
    p.add_argument(
        "--mac-rate",
        type=v.float_option(0.0, 1e18, lo_open=True),
        metavar="MAC_PER_S",
        help="the ANN's multiply-accumulates per second (t = MACs / rate)",
    )
    p.add_argument(
        "--static-power",
        type=v.float_option(0.0, 1e3),
        default=0.0,
        metavar="W",
        help="static power in watts added to both sides as P x t (needs --step-time and"
        " --mac-rate; default 0)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(
        p,
        "REPORT_DIR",
        "report folder to write",
        sources=lambda a: (
            *a.artifacts,
            *_paths(a.technology, *a.profile.split(","), *a.ann_profile.split(",")),
        ),
        protects=lambda a: (a.data_dir,),
    )
    p.set_defaults(func=run)


def _paths(*names: str) -> list[str]:
    """The profile options that name files (not built-in profiles)."""
    return [n for n in names if n and ("/" in n or n.endswith(".toml"))]


def run(args: argparse.Namespace) -> int:
    from modspike.runtime.energy_report import TimeBase
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
        technology=args.technology,
        time_base=TimeBase(args.step_time, args.mac_rate, args.static_power),
    )
    rows = [
        {
            "artifact": e["artifact"],
            "accuracy": e["accuracy"],
            "snn_pj_per_inference": e["snn"]["energy_pj_per_sample"],
            "ann_pj_per_inference": e["ann"].get("energy_pj_per_sample") if e["ann"] else None,
            "ratio_snn_over_ann": e["ratio_snn_over_ann"],
            "tier": "deployed, central",
        }
        for e in report["artifacts"]
    ]
    print(json.dumps({"report_dir": args.out, "kind": report["kind"], "artifacts": rows}))
    return 0
