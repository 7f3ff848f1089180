"""The ``modspike`` command: one console script, a subcommand per pipeline stage.

Stages are imported inside their subcommand so that ``--help`` is instant and so that commands
that never train do not initialise torch's CUDA (Lava forks worker processes, see docs).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from modspike import __version__
from modspike.errors import ModspikeError

EPILOG = """pipeline: train -> export -> run / report.  Data sets load locally (digits ships with
scikit-learn; mnist / fashion-mnist read IDX files from --data-dir); nothing is downloaded."""


SUBCOMMANDS = (
    "train", "export", "import_nir", "inspect", "run", "report", "sweep", "analyze", "learn",
)  # fmt: skip
"""The subcommand modules of this package, in the order ``--help`` lists them; each has ``NAME``,
``HELP``, ``add(subparsers)`` and ``run(args) -> exit code``."""


class _UsageError(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``modspike CMD: error: ...``, exit 2) instead of the usage
    block; ``--help`` shows the usage."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(self.prog, " ".join(str(message).split()))


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen subcommand (all of them when ``argv`` is None) gets its full
    options, whose choices may come from the kind and backend registries (importing torch): the
    others are listed by name, so ``modspike --help`` stays instant."""
    parser = Parser(
        prog="modspike",
        description="Neuromodulable spiking networks from PyTorch to Loihi-style hardware.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"modspike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    chosen = None if argv is None else _chosen(argv)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        if argv is None or module.NAME == chosen:
            module.add(sub)
        else:
            sub.add_parser(module.NAME, help=module.HELP)
    return parser


def _check_out(args: argparse.Namespace) -> None:
    """The ``--out`` policy, before any work starts (``modspike.outputs.check_target``)."""
    from modspike.outputs import check_target

    if getattr(args, "out", None) is None or not hasattr(args, "out_kind"):
        return
    check_target(
        args.out,
        force=args.force,
        kind=args.out_kind,
        sources=tuple(args.out_sources(args)),
        protects=tuple(args.out_protects(args)),
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{exc.prog}: error: {exc} (see {exc.prog} --help)", file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        print(
            f"modspike: error: a command is required: one of {', '.join(_names())}"
            " (see modspike --help)",
            file=sys.stderr,
        )
        return 2
    command = args.command
    from modspike import interrupts
    from modspike.outputs import output_policy

    with interrupts.handle_signals(command):
        try:
            _check_out(args)
            with output_policy(getattr(args, "force", False)):
                return int(args.func(args) or 0)
        except ModspikeError as exc:
            print(f"modspike {command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return exc.exit_code
        except interrupts.Interrupted as exc:
            print(interrupts.finish_interrupt(exc), file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print(f"modspike {command}: interrupted", file=sys.stderr)
            return 130
        except MemoryError:
            print(
                f"modspike {command}: error: out of memory (use fewer samples, steps or a"
                " smaller network)",
                file=sys.stderr,
            )
            return 2
        except Exception as exc:  # a bug: one line, the traceback on request
            if os.environ.get("MODSPIKE_TRACEBACK"):
                raise
            print(
                f"modspike {command}: internal error: {_one_line(exc)} (a bug, please report it;"
                " MODSPIKE_TRACEBACK=1 shows the traceback)",
                file=sys.stderr,
            )
            return 1


def _names() -> list[str]:
    return [name.replace("_", "-") for name in SUBCOMMANDS]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
