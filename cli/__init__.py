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
"""The subcommand modules of this package, in the order ``--help`` lists them; each has ``NAME``,
``HELP``, ``add(subparsers)`` and ``run(args) -> exit code``."""


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen subcommand (all of them when ``argv`` is None) gets its full
    options, whose choices may come from the kind and backend registries (importing torch): the
    others are listed by name, so ``modspike --help`` stays instant."""
    parser = argparse.ArgumentParser(
        prog="modspike",
        description="Neuromodulable spiking networks from PyTorch to Loihi-style hardware.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"modspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None if argv is None else _chosen(argv)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        if argv is None or module.NAME == chosen:
            module.add(sub)
        else:
            sub.add_parser(module.NAME, help=module.HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
