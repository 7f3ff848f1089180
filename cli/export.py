"""``modspike export``: a trained run, or any NIR file, as a deployable artifact."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from modspike import validate as v

from .options import COUNT, SEED, add_out

NAME = "export"
HELP = "quantise a trained run or a NIR file and write a deployable artifact (NIR + manifest)"

# options that only a NIR file takes (a run records its own), with their defaults
NIR_ONLY = {
    "data": None,
    "encoding": None,
    "steps": None,
    "gain": None,
    "prefix": None,
    "bins": None,
    "bin_us": None,
    "downsample": None,
    "dt": None,
    "producer": None,
    "reset": None,
    "split_seed": None,
    "seed": None,
    "limit": None,
}


def add(sub: argparse._SubParsersAction) -> None:
    from modspike import data
    from modspike.encoding import ENCODINGS
    from modspike.kinds import producers

    p = sub.add_parser(
        NAME,
        help=HELP,
        description="SOURCE is a run directory (modspike train) or a .nir file from any tool."
        " Quantise it to the fixed-point format, measure float-vs-quantised fidelity on the test"
        " split of its data set, and write ARTIFACT_DIR/{model.nir, manifest.json[,"
        " baseline.onnx]}. A NIR file needs --data: the data set it is checked on and whose input"
        " encoding the artifact records, so that `modspike run --backend sim|lava` can run it;"
        " --producer says whose conventions the file follows (the file does not say;"
        " docs/nir-producers.md).",
    )
    p.add_argument("source", metavar="SOURCE", help="a run directory or a .nir file")
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
    p.add_argument("--data-dir", help="folder with the data set's files (mnist, nmnist, shd, ...)")
    g = p.add_argument_group("a NIR file (a run directory records all of these)")
    g.add_argument("--data", choices=data.names(), help="data set to check and deploy it on")
    g.add_argument(
        "--encoding",
        choices=ENCODINGS,
        help="input code (default: rate for images, events for event data)",
    )
    g.add_argument(
        "--steps",
        type=v.int_option(1, v.MAX_STEPS),
        help="coded time steps (default: 25; event data: the bins)",
    )
    g.add_argument(
        "--gain",
        type=v.float_option(0.0, v.MAX_GAIN, lo_open=True),
        help="rate code: spike probability = gain * intensity (default: 1)",
    )
    g.add_argument(
        "--prefix", type=v.int_option(0, v.MAX_STEPS), help="silent steps before the code"
    )
    g.add_argument("--bins", type=v.int_option(1, v.MAX_STEPS), help="event data: time bins")
    g.add_argument(
        "--bin-us", type=v.int_option(1, 3_600_000_000), metavar="US", help="event data: bin width"
    )
    g.add_argument(
        "--downsample", type=v.int_option(1, 64), metavar="K", help="event data: K x K pooling"
    )
    g.add_argument(
        "--producer",
        choices=producers.names(),
        help="the tool that wrote the file (default: nir, NIR's forward-Euler meaning)",
    )
    g.add_argument(
        "--reset",
        choices=("zero", "subtract"),
        help="snntorch: the reset mechanism its neurons used (default: subtract, snntorch's)",
    )
    g.add_argument(
        "--dt",
        type=v.float_option(0.0, v.MAX_DT, lo_open=True),
        help="time step in seconds if the file does not record one (default: the producer's)",
    )
    g.add_argument("--split-seed", type=SEED, help="seed of the train/val/test split (default: 0)")
    g.add_argument("--seed", type=SEED, help="seed of the input spikes of the check (default: 0)")
    g.add_argument("--limit", type=COUNT, metavar="N", help="check on the first N test samples")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(
        p,
        "ARTIFACT_DIR",
        "artifact folder to write",
        sources=lambda a: (a.source, a.baseline),
        protects=lambda a: (a.data_dir,),
    )
    p.set_defaults(func=run)


def _is_nir_file(source: str) -> bool:
    path = Path(source)
    return path.is_file() or path.suffix.lower() == ".nir"


def run(args: argparse.Namespace) -> int:
    from modspike.errors import ConfigError
    from modspike.fixedpoint import WeightFormat

    WeightFormat(args.bits, args.granularity)  # checked before the source is loaded
    if _is_nir_file(args.source):
        return _run_nir(args)
    given = [k for k, default in NIR_ONLY.items() if getattr(args, k) != default]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{flags}: a run directory records these; they apply to a .nir file")
    from modspike.export.artifact_build import export_run

    summary = export_run(
        args.source, args.out, args.bits, args.granularity, args.baseline, args.data_dir
    )
    print(json.dumps(summary))
    return 0


def _run_nir(args: argparse.Namespace) -> int:
    from modspike.data import EventOptions
    from modspike.errors import ConfigError
    from modspike.export.nir_artifact import DEFAULT_GAIN, InputSpec, export_nir_file

    if args.data is None:
        raise ConfigError(
            "a NIR file needs --data: the data set it is checked on and deployed with"
        )
    if args.baseline is not None:
        raise ConfigError("--baseline: an ANN baseline goes with a trained run, not a NIR file")
    spec = InputSpec(
        data=args.data,
        encoding=args.encoding,
        steps=args.steps,
        gain=DEFAULT_GAIN if args.gain is None else args.gain,
        prefix=args.prefix or 0,
        options=EventOptions(bins=args.bins, bin_us=args.bin_us, downsample=args.downsample or 1),
        split_seed=args.split_seed or 0,
    )
    summary = export_nir_file(
        args.source,
        args.out,
        spec,
        bits=args.bits,
        granularity=args.granularity,
        dt=args.dt,
        producer=args.producer,
        reset=args.reset,
        data_dir=args.data_dir,
        seed=args.seed or 0,
        limit=args.limit,
        progress=not args.quiet,
    )
    for note in summary["notes"]:
        print(f"modspike export: note: {note}", file=sys.stderr)
    print(json.dumps({k: w for k, w in summary.items() if k != "notes"}))
    return 0
