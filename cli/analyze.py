"""``modspike analyze``: excitability analysis (a study)."""

from __future__ import annotations

import argparse
import json

from .options import add_out

NAME = "analyze"
HELP = "excitability of SRC / mSRC / BSRC neurons: f-I curves, hysteresis, delay, bursts"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        NAME,
        help=HELP,
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
    add_out(p, "DIR", "output folder to write")
    p.set_defaults(func=run)


def _check_counts(args: argparse.Namespace, limit: int) -> None:
    """The N of an A:B:N range is checked before numpy is asked for N values."""
    from modspike.errors import ConfigError

    for option in ("hs0_range", "drive_range"):
        text = getattr(args, option)
        parts = str(text).split(":") if text is not None else []
        if len(parts) == 3 and parts[2].strip().lstrip("+").isdigit() and int(parts[2]) > limit:
            flag = "--" + option.replace("_", "-")
            raise ConfigError(f"{flag} {text!r}: N = {int(parts[2])} values; at most {limit}")


def run(args: argparse.Namespace) -> int:
    from modspike.studies.excitability.plots import MAX_GRID, write_report

    _check_counts(args, MAX_GRID)

    options = ("cell", "hs0", "hs0_range", "r", "drive_range", "synapse_alpha", "bias")
    summary = write_report(
        args.out, **{k: getattr(args, k) for k in options}, progress=not args.quiet
    )
    print(json.dumps(summary))
    return 0
