"""``modspike import-nir``: wrap a NIR file as an artifact."""

from __future__ import annotations

import argparse
import json
import sys

from modspike.validate import MAX_DT, float_option

from .options import add_out

NAME = "import-nir"
HELP = "check a NIR file (from any tool) and wrap it as an artifact"


def add(sub: argparse._SubParsersAction) -> None:
    from modspike.kinds import producers

    p = sub.add_parser(
        NAME,
        help=HELP,
        description="Read FILE.nir, check that modspike can run it, and write ARTIFACT_DIR (float;"
        " `modspike export FILE.nir --data ...` also quantises it). NIR has no time step, reset"
        " or firing rule, and each tool means its own: --producer names the tool that wrote the"
        " file (docs/nir-producers.md). dt comes from the file's metadata, else --dt, else the"
        " producer's, else 1e-4 (snntorch's); the command says which.",
    )
    p.add_argument("file", metavar="FILE.nir")
    p.add_argument(
        "--producer",
        choices=producers.names(),
        help="the tool that wrote the file (default: nir, NIR's forward-Euler meaning)",
    )
    p.add_argument(
        "--reset",
        choices=("zero", "subtract"),
        help="snntorch: the reset mechanism its neurons used (default: subtract, snntorch's)",
    )
    p.add_argument(
        "--dt",
        type=float_option(0.0, MAX_DT, lo_open=True),
        help="time step in seconds if the file does not record one",
    )
    add_out(p, "ARTIFACT_DIR", "artifact folder to write", sources=lambda a: (a.file,))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspike.export.artifact_build import import_to_artifact

    summary = import_to_artifact(args.file, args.out, args.dt, args.producer, args.reset)
    source = {
        "metadata": "from the file's metadata",
        "--dt": "from --dt",
        "producer": f"{summary['producer']}'s",
        "default": "default: none in the file and no --dt (snntorch's convention)",
    }.get(summary["dt_source"], summary["dt_source"])
    print(f"modspike import-nir: dt = {summary['dt']:g} s ({source})", file=sys.stderr)
    for note in summary["notes"]:
        print(f"modspike import-nir: note: {note}", file=sys.stderr)
    print(json.dumps(summary))
    return 0
