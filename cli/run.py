"""``modspike run``: run an artifact on a backend."""

from __future__ import annotations

import argparse
import json

from .options import COUNT, SEED, add_out

NAME = "run"
HELP = "run an artifact on a backend (torch, sim, lava, lava-float, loihi2) over a data split"


def add(sub: argparse._SubParsersAction) -> None:
    from modspike.hw import backends

    p = sub.add_parser(
        NAME,
        help=HELP,
        description=(
            "Run ARTIFACT_DIR over the test split with input spikes drawn from its encoding: "
            "torch = float dynamics, sim = the bit-exact integer simulator, lava = Lava's CPU "
            "simulator (fixed_pt, all samples in one run), lava-float = Lava's floating_pt models "
            "on the float network, loihi2 = Intel's hardware (needs lava-loihi). Prints accuracy and speed; --out writes RESULT.json with predictions "
            "and per-layer spike counts."
        ),
    )
    p.add_argument("artifact", metavar="ARTIFACT_DIR")
    p.add_argument("--backend", choices=backends.names(), default="sim")
    p.add_argument("--data", help="data set (default: the one named in the manifest)")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist / fashion-mnist)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--limit", type=COUNT, metavar="N", help="the first N samples only")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the input spikes (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(
        p,
        "RESULT.json",
        "write the full result here",
        kind="file",
        required=False,
        sources=lambda a: (a.artifact,),
        protects=lambda a: (a.data_dir,),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
    if args.out:  # atomic, typed errors (full disk, ...), nothing half-written
        from modspike.outputs import write_text_atomic

        write_text_atomic(args.out, json.dumps(result, indent=1))
    keys = ("backend", "n_samples", "accuracy", "seconds", "samples_per_second")
    print(json.dumps({k: result[k] for k in keys}))
    return 0
