"""The ``modspike`` command: one console script, a subcommand per pipeline stage.

Stages are imported inside their subcommand so that ``--help`` is instant and so that commands
that never train do not initialise torch's CUDA (Lava forks worker processes, see docs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .errors import ModspikeError

EPILOG = """pipeline: train -> export -> run / report.  Data sets load locally (digits ships with
scikit-learn; mnist / fashion-mnist read IDX files from --data-dir); nothing is downloaded."""


def _add_train(sub: argparse._SubParsersAction) -> None:
    from modspike.data import DATASETS

    p = sub.add_parser(
        "train",
        help="train a spiking (or ANN baseline) network on a data set",
        description="Train a network and write RUN_DIR/{config.json, model.safetensors, metrics.json}.",
    )
    p.add_argument(
        "--cell",
        default="src",
        choices=["src", "msrc", "bsrc", "brc", "nbrc", "lif", "cubalif", "ann"],
        help="cell type of the hidden layers; 'ann' is the non-spiking ReLU baseline (default: src)",
    )
    p.add_argument("--data", default="digits", choices=DATASETS, help="data set (default: digits)")
    p.add_argument("--data-dir", help="folder with the IDX files for mnist / fashion-mnist")
    p.add_argument(
        "--encoding", default="rate", choices=["rate", "latency"], help="input code (default: rate)"
    )
    p.add_argument(
        "--steps", "-T", type=int, default=25, help="coded time steps per sample (default: 25)"
    )
    p.add_argument(
        "--gain",
        type=float,
        default=0.8,
        help="rate code: spike probability = gain * intensity (default: 0.8)",
    )
    p.add_argument(
        "--prefix", type=int, default=0, help="silent steps before the code (default: 0)"
    )
    p.add_argument("--hidden", type=int, default=64, help="neurons per hidden layer (default: 64)")
    p.add_argument("--layers", type=int, default=1, help="number of hidden layers (default: 1)")
    p.add_argument(
        "--recurrent", action="store_true", help="add recurrent synapses to each hidden layer"
    )
    p.add_argument(
        "--keep-state-grad",
        action="store_true",
        help="SRC family: keep gradients through h and h_s (default detaches them: +4 points)",
    )
    p.add_argument(
        "--hs0",
        default="1.0",
        help="mSRC/BSRC: initial h_s0, a value or LO:HI (uniform per neuron)",
    )
    p.add_argument(
        "--fix-hs0", action="store_true", help="mSRC/BSRC: keep h_s0 fixed instead of learning it"
    )
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 5e-3; 1e-3 for ann)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the weights, batches and input spikes"
    )
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/val/test split")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    p.add_argument("--limit", type=int, help="train on the first N training samples only")
    p.add_argument(
        "--qat",
        action="store_true",
        help="quantisation-aware training: the forward pass is the exported 8-bit integer network",
    )
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=0,
        metavar="N",
        help="VAA* warm-up steps before training, for brc/nbrc/src/msrc/bsrc (default: 0, off)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from modspike.train.trainer import TrainConfig, train

    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    _, metrics = train(cfg, out=args.out, progress=not args.quiet)
    summary = {k: metrics[k] for k in ("test_accuracy", "val_accuracy", "epochs", "seconds")}
    if "never_active_neurons" in metrics:
        summary["never_active_neurons"] = metrics["never_active_neurons"]
    print(json.dumps({"run_dir": args.out, **summary}))
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="quantise a trained run and write a deployable artifact (NIR + manifest [+ ONNX])",
        description="Quantise RUN_DIR to the fixed-point format, measure float-vs-quantised fidelity"
        " on the test split, and write ARTIFACT_DIR/{model.nir, manifest.json[, baseline.onnx]}.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a spiking run written by modspike train")
    p.add_argument("--bits", type=int, default=8, help="weight mantissa bits, 2..8 (default: 8)")
    p.add_argument(
        "--granularity",
        default="layer",
        choices=["layer", "neuron"],
        help="one weight exponent per layer (Loihi's weight_exp) or per output neuron",
    )
    p.add_argument("--baseline", metavar="ANN_RUN_DIR", help="an ANN run to add as baseline.onnx")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist / fashion-mnist runs)")
    p.add_argument("--out", required=True, metavar="ARTIFACT_DIR", help="artifact folder to write")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from modspike.export.artifact_build import export_run

    summary = export_run(
        args.run_dir, args.out, args.bits, args.granularity, args.baseline, args.data_dir
    )
    print(json.dumps(summary))
    return 0


def _add_import_nir(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-nir",
        help="check a NIR file (from any tool) and wrap it as an artifact",
        description="Read FILE.nir, check that modspike can run it, and write ARTIFACT_DIR. NIR has"
        " no time step: dt comes from the file's metadata, else --dt, else 1e-4 (snntorch's);"
        " the command says which.",
    )
    p.add_argument("file", metavar="FILE.nir")
    p.add_argument("--dt", type=float, help="time step in seconds if the file does not record one")
    p.add_argument("--out", required=True, metavar="ARTIFACT_DIR", help="artifact folder to write")
    p.set_defaults(func=_cmd_import_nir)


def _cmd_import_nir(args: argparse.Namespace) -> int:
    from modspike.export.artifact_build import import_to_artifact

    summary = import_to_artifact(args.file, args.out, args.dt)
    source = {
        "metadata": "from the file's metadata",
        "--dt": "from --dt",
        "default": "default: none in the file and no --dt (snntorch's convention)",
    }[summary["dt_source"]]
    print(f"modspike import-nir: dt = {summary['dt']:g} s ({source})", file=sys.stderr)
    for note in summary["notes"]:
        print(f"modspike import-nir: note: {note}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="summarise an artifact: layers, neurons, synapses, bits, memory, Loihi 2 fit",
        description="Verify ARTIFACT_DIR (checksums, schema) and print a readable summary.",
    )
    p.add_argument("artifact", metavar="ARTIFACT_DIR")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from modspike.export.artifact_build import open_artifact
    from modspike.export.summary import format_summary, summarize

    summary = summarize(*open_artifact(args.artifact))
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="excitability of SRC / mSRC / BSRC neurons: f-I curves, hysteresis, delay, bursts",
        description="Sweep a constant drive up from rest and down from spiking for every h_s0; "
        "classify each neuron (silent, type1, type2, type2*, bursting, tonic, "
        "depolarisation_block; rule in docs/cells.md). Writes DIR/excitability.json and PNGs.",
    )
    p.add_argument(
        "--cell", default="msrc", choices=["src", "msrc", "bsrc"], help="(default: msrc)"
    )
    p.add_argument(
        "--hs0", metavar="LIST", help="h_s0 values, comma separated (mSRC: 1.0; BSRC: 0.7)"
    )
    p.add_argument("--hs0-range", metavar="A:B:N", help="N values of h_s0 from A to B")
    p.add_argument("--r", metavar="R", help="fast gain r (SRC 2, mSRC/BSRC 4; 5.263 = option D)")
    p.add_argument(
        "--drive-range",
        metavar="A:B:N",
        help="drives x (default: src -6:8:141, msrc 0:8:201, bsrc -2:3:101); "
        "a negative start needs '=': --drive-range=-2:3:101",
    )
    p.add_argument(
        "--synapse-alpha",
        metavar="A",
        help="exponential input synapse, 0 <= A < 1 (default 0: the drive enters directly)",
    )
    p.add_argument("--bias", metavar="B", help="the cell's bias b (default: 0; BSRC -5)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder to write")
    p.set_defaults(func=_cmd_analyze)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from modspike.train.excitability_plots import write_report

    options = ("cell", "hs0", "hs0_range", "r", "drive_range", "synapse_alpha", "bias")
    summary = write_report(
        args.out, **{k: getattr(args, k) for k in options}, progress=not args.quiet
    )
    print(json.dumps(summary))
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run an artifact on a backend (torch, sim, lava, loihi2) over a data split",
        description=(
            "Run ARTIFACT_DIR over the test split with input spikes drawn from its encoding: "
            "torch = float dynamics, sim = the bit-exact integer simulator, lava = Lava's CPU "
            "simulator (fixed_pt, all samples in one run), lava-float = Lava's floating_pt models "
            "on the float network, loihi2 = Intel's hardware (needs lava-loihi). Prints accuracy and speed; --out writes RESULT.json with predictions "
            "and per-layer spike counts."
        ),
    )
    p.add_argument("artifact", metavar="ARTIFACT_DIR")
    p.add_argument(
        "--backend", choices=("torch", "sim", "lava", "lava-float", "loihi2"), default="sim"
    )
    p.add_argument("--data", help="data set (default: the one named in the manifest)")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist / fashion-mnist)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--limit", type=int, metavar="N", help="the first N samples only")
    p.add_argument("--seed", type=int, default=0, help="seed of the input spikes (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", metavar="RESULT.json", help="write the full result here")
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from modspike.hw.run_artifact import run_artifact

    result = run_artifact(
        args.artifact,
        backend=args.backend,
        data=args.data,
        data_dir=args.data_dir,
        split=args.split,
        limit=args.limit,
        seed=args.seed,
        progress=not args.quiet,
    )
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        tmp.replace(out)  # atomic: no half-written result
    keys = ("backend", "n_samples", "accuracy", "seconds", "samples_per_second")
    print(json.dumps({k: result[k] for k in keys}))
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="modeled cost of artifacts: counts, energy vs the ANN baseline, figures",
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
    p.add_argument("--limit", type=int, metavar="N", help="the first N test samples only")
    p.add_argument("--seed", type=int, default=0, help="seed of the input spikes (default: 0)")
    p.add_argument(
        "--profile",
        default="loihi",
        help="SNN energy profile: loihi, spinnaker2 or a TOML path (default: loihi)",
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
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="report folder to write")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
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


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_train,
    _add_export,
    _add_import_nir,
    _add_inspect,
    _add_run,
    _add_report,
    _add_analyze,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modspike",
        description="Neuromodulable spiking networks from PyTorch to Loihi-style hardware.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"modspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ModspikeError as exc:
        print(f"modspike {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"modspike {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
