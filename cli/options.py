"""Options shared by the subcommands: ``--out`` with ``--force``, and validated numbers."""

from __future__ import annotations

import argparse

from modspike.validate import MAX_COUNT, MAX_SEED, int_option

SEED = int_option(0, MAX_SEED)
COUNT = int_option(1, MAX_COUNT)


def add_out(
    p: argparse.ArgumentParser,
    metavar: str,
    help: str,
    *,
    kind: str = "dir",
    required: bool = True,
    sources=lambda args: (),
    protects=lambda args: (),
) -> None:
    """``--out`` and ``--force``; the CLI checks the target before any work starts
    (``modspike.outputs.check_target``): ``kind`` is ``"dir"`` or ``"file"``, ``sources(args)``
    the command's inputs, which the target may not overlap, ``protects(args)`` folders it may lie
    in but not replace (``--data-dir``)."""
    p.add_argument("--out", required=required, metavar=metavar, help=help)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace --out if it exists (an earlier modspike output only; the old content stays"
        " until the new one is complete)",
    )
    p.set_defaults(out_kind=kind, out_sources=sources, out_protects=protects)
