"""``modspike export``: export a run as an artifact."""

from __future__ import annotations

import argparse
import json

from .options import add_out

NAME = "export"
HELP = "quantise a trained run and write a deployable artifact (NIR + manifest [+ ONNX])"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help=HELP,
        description="Quantise RUN_DIR to the fixed-point format, measure float-vs-quantised fidelity"
        " on the test split, and write ARTIFACT_DIR/{model.nir, manifest.json[, baseline.onnx]}.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a spiking run written by modspike train")
    p.add_argument(
        "--bits",
        type=int,
        default=8,
        help="weight mantissa bits, 2..8 (default: 8)",
    )
    p.add_argument(
        "--granularity",
        default="layer",
        choices=["layer", "neuron"],
        help="one weight exponent per layer (Loihi's weight_exp) or per output neuron",
    )
    p.add_argument("--baseline", metavar="ANN_RUN_DIR", help="an ANN run to add as baseline.onnx")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist / fashion-mnist runs)")
    add_out(
        p,
        "ARTIFACT_DIR",
        "artifact folder to write",
        sources=lambda a: (a.run_dir, a.baseline),
        protects=lambda a: (a.data_dir,),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspike.export.artifact_build import export_run
    from modspike.fixedpoint import WeightFormat

    WeightFormat(args.bits, args.granularity)  # checked before the run is loaded

    summary = export_run(
        args.run_dir, args.out, args.bits, args.granularity, args.baseline, args.data_dir
    )
    print(json.dumps(summary))
    return 0
