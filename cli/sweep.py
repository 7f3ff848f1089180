"""``modspike sweep``: train and export a grid, and keep the accuracy-energy Pareto front."""

from __future__ import annotations

import argparse
import json

from modspike import validate as v

from .options import COUNT, add_out

NAME = "sweep"
HELP = "train and export a grid (T, encoding, regulariser, cell); accuracy-energy Pareto front"

QUICK = {
    "cells": "lif,if",
    "steps": "5,25",
    "encodings": "rate,latency",
    "reg_synops": "0",
    "seeds": "0",
    "hidden": "64",
}


def add(sub: argparse._SubParsersAction) -> None:
    from modspike.data import DATASETS

    p = sub.add_parser(
        NAME,
        help=HELP,
        description=(
            "Train every combination of --cells x --steps x --encodings x --reg-synops x --seeds"
            " x --hidden (and one ANN baseline per seed and hidden size, the trainer's ANN"
            " default), export each at --bits bits with its ANN as the baseline, run it on the"
            " simulator and price it like `modspike report` does. Each point is compared with the"
            " ANN of its own seed and size, inside the"
            " deployed tier only (one technology for both sides; low / central / high band)."
            " Writes SWEEP_DIR/sweep.json (schema modspike-sweep/1: every point's accuracy,"
            " counts, energies, ratios, dominating term, break-even; the Pareto front of central"
            " energy against accuracy; the goal test: a point within --goal-points of the int8"
            " ANN's accuracy at no more than its energy, or the closest point and the bound that"
            " rules it out), sweep.md, pareto.png and points/<id>/{artifact, entry.json}."
            " Everything is modeled (docs/energy-model.md)."
        ),
    )
    p.add_argument(
        "--cells", default="lif,if,src", help="cell kinds, comma-separated (default: lif,if,src)"
    )
    p.add_argument("--steps", "-T", default="5,10,25", help="time steps T (default: 5,10,25)")
    p.add_argument(
        "--encodings",
        default="rate,latency",
        help="input codes: rate, latency (threshold 0.01) or latency:X (intensities <= X never"
        " spike); default: rate,latency",
    )
    p.add_argument(
        "--reg-synops",
        default="0,10",
        metavar="LAMBDAS",
        help="synaptic-operation regulariser strengths (modspike train --reg-synops; default: 0,10)",
    )
    p.add_argument("--seeds", default="0", help="training seeds (default: 0)")
    p.add_argument(
        "--hidden",
        default="64",
        help="hidden sizes, comma-separated; each point is compared with the ANN of its own size"
        " and seed (default: 64)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a small grid: lif,if x T 5,25 x rate,latency, lambda 0, seed 0 (8 points)",
    )
    p.add_argument("--data", default="digits", choices=DATASETS, help="data set (default: digits)")
    p.add_argument("--data-dir", help="folder with the IDX files for mnist / fashion-mnist")
    p.add_argument(
        "--epochs", type=v.int_option(1, v.MAX_EPOCHS), default=30, help="SNN epochs (default: 30)"
    )
    p.add_argument(
        "--lr",
        type=v.float_option(0.0, v.MAX_LR, lo_open=True),
        help="SNN learning rate (default: the trainer's)",
    )
    p.add_argument(
        "--ann-epochs",
        type=v.int_option(1, v.MAX_EPOCHS),
        help="ANN epochs (default: the trainer's ANN default)",
    )
    p.add_argument(
        "--ann-lr",
        type=v.float_option(0.0, v.MAX_LR, lo_open=True),
        help="ANN learning rate (default: the trainer's)",
    )
    p.add_argument(
        "--bits", type=v.int_option(2, 16), default=8, help="export weight bits (default: 8)"
    )
    p.add_argument(
        "--limit", type=COUNT, metavar="N", help="train on the first N training samples only"
    )
    p.add_argument(
        "--eval-limit", type=COUNT, metavar="N", help="measure the first N test samples only"
    )
    p.add_argument(
        "--goal-points",
        type=v.float_option(0.0, 100.0),
        default=1.0,
        help="accuracy tolerance of the goal test, in points (default: 1)",
    )
    p.add_argument("--no-artifacts", action="store_true", help="keep sweep.json/md/png only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(p, "SWEEP_DIR", "sweep folder to write", protects=lambda a: (a.data_dir,))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspike.runtime.sweep import SweepConfig, grid, parse_list, run_sweep

    opts = {k: getattr(args, k) for k in QUICK}
    if args.quick:
        opts = dict(QUICK)
    points = grid(
        parse_list(opts["cells"], str, "cells"),
        parse_list(opts["steps"], int, "steps"),
        parse_list(opts["encodings"], str, "encodings"),
        parse_list(opts["reg_synops"], float, "reg-synops"),
        parse_list(opts["seeds"], int, "seeds"),
        parse_list(opts["hidden"], int, "hidden"),
    )
    sc = SweepConfig(
        data=args.data,
        data_dir=args.data_dir,
        epochs=args.epochs,
        bits=args.bits,
        lr=args.lr,
        ann_epochs=args.ann_epochs,
        ann_lr=args.ann_lr,
        limit=args.limit,
        eval_limit=args.eval_limit,
        goal_points=args.goal_points,
    )
    result = run_sweep(
        points, sc, args.out, progress=not args.quiet, keep_artifacts=not args.no_artifacts
    )
    g = result["goal"] or {}
    print(
        json.dumps(
            {
                "sweep_dir": args.out,
                "kind": "modeled",
                "points": len(result["points"]),
                "failed": len(result["failed"]),
                "pareto": result["pareto"],
                "goal_met": g.get("met"),
                "closest": g.get("closest"),
                "bound": g.get("bound"),
            }
        )
    )
    return 0
