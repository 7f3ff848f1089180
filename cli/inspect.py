"""``modspike inspect``: summarise an artifact."""

from __future__ import annotations

import argparse
import json

NAME = "inspect"
HELP = "summarise an artifact: layers, neurons, synapses, bits, memory, Loihi 2 fit"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help=HELP,
        description="Verify ARTIFACT_DIR (checksums, schema) and print a readable summary.",
    )
    p.add_argument("artifact", metavar="ARTIFACT_DIR")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspike.export.artifact_build import open_artifact
    from modspike.export.summary import format_summary, summarize

    summary = summarize(*open_artifact(args.artifact))
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
