"""The ``modspike`` command: one console script, a subcommand per pipeline stage.

Stages are imported inside their subcommand so that ``--help`` is instant and so that commands
that never train do not initialise torch's CUDA (Lava forks worker processes, see docs).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from modspike import __version__
from modspike.errors import ModspikeError

EPILOG = """pipeline: train -> export -> run / report.  Data sets load locally (digits ships with
scikit-learn; mnist / fashion-mnist read IDX files from --data-dir); nothing is downloaded."""


SUBCOMMANDS = ("train", "export", "import_nir", "inspect", "run", "report", "analyze")
"""The subcommand modules of this package, in the order ``--help`` lists them; each has
``add(subparsers)`` and ``run(args) -> exit code``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modspike",
        description="Neuromodulable spiking networks from PyTorch to Loihi-style hardware.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"modspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add(sub)
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
