"""Learnable h_s0 to convergence in the thesis setting: 42 mSRC neurons, rate and latency codes.

For each (data, encoding, layout, seed): ``h_s0 ~ U(0.5, 1.5)`` per neuron, Adam 5e-3, batch 64,
T = 25, gain 0.8; train until h_s0 stops moving (max change over 10 epochs < 0.01) and the
validation loss has not improved for 20 epochs, or ``--max-epochs``; classify every neuron's learned
h_s0 (fidelity.md 5). Controls (``--controls``): h_s0 fixed at 0.5, 0.87, 0.9 and 1.5.

    nice -n 19 .venv/bin/python benchmarks/hs0_convergence.py --seeds 0 1 2 3 4
    nice -n 19 .venv/bin/python benchmarks/hs0_convergence.py --data mnist --data-dir DIR \\
        --max-epochs 100 --seeds 0 1 2 3 4

Runs are cached in ``--cache``; ``benchmarks/results/hs0_convergence.json`` is rebuilt from the cache
each time. MNIST needs the four IDX files (``train-images-idx3-ubyte`` ... , optionally gzipped)
in ``--data-dir``; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from modspike.data import load_dataset
from modspike.errors import ModspikeError
from modspike.studies.hs0_convergence import LAYOUTS, HS0Config, train_to_convergence
from modspike.studies.results_file import write_results

ROOT = Path(__file__).resolve().parent
DEFAULT_CACHE = ROOT.parent / "runs" / "hs0_convergence"
DEFAULT_OUT = ROOT / "results" / "hs0_convergence.json"
CONTROLS = ("0.5", "0.87", "0.9", "1.5")
ORDER = ("type2*", "type1", "type2", "tonic", "bursting", "silent", "depolarisation_block")


def run_name(cfg: HS0Config) -> str:
    init = f"fixed{cfg.hs0}" if cfg.fix_hs0 else "learned"
    return f"{cfg.data}-{cfg.encoding}-{cfg.layout}-{init}-seed{cfg.seed}"


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def summary(runs: list[dict]) -> str:
    """One row per (data, encoding, layout, h_s0 setting): accuracy, epochs, learned types."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        init = f"fixed {r['hs0']}" if r["fix_hs0"] else "learned U(0.5, 1.5)"
        groups.setdefault((r["data"], r["encoding"], r["layout"], init), []).append(r)
    rows = [
        "| data | code | layout | h_s0 | seeds | test accuracy | epochs (stop) | learned h_s0 "
        "mean +- sd | classes of active neurons (all seeds) | modal share per seed | claim met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (data, enc, layout, init), rs in sorted(groups.items()):
        acc = np.array([r["test_accuracy"] for r in rs])
        hs0 = np.concatenate([r["hs0_final"] for r in rs])
        counts = Counter()
        for r in rs:
            counts.update(r["class_counts"])
        classes = ", ".join(f"{c} {counts[c]}" for c in ORDER if counts[c])
        stops = ", ".join(f"{r['epochs_run']} ({r['stop_reason'][:4]})" for r in rs)
        shares = " / ".join(f"{r['modal_fraction']:.2f}" for r in rs)
        met = sum(r["claim_single_new_type"] for r in rs)
        claim = "- (fixed)" if rs[0]["fix_hs0"] else f"{met} of {len(rs)}"
        rows.append(
            f"| {data} | {enc} | {layout} | {init} | {len(rs)} | {acc.mean():.3f} +- "
            f"{acc.std():.3f} | {stops} | {hs0.mean():.3f} +- {hs0.std():.3f} | {classes} | "
            f"{shares} | {claim} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits", choices=("digits", "mnist", "fashion-mnist"))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--encodings", nargs="+", default=["rate", "latency"])
    ap.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--max-epochs", type=int, default=500)
    ap.add_argument("--controls", nargs="*", default=[], choices=CONTROLS,
                    help="fixed h_s0 values to run as controls (one seed each: the first)")  # fmt: skip
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        data = load_dataset(args.data, args.data_dir) if (args.seeds or args.controls) else None
    except ModspikeError as exc:
        print(f"hs0_convergence: error: {exc}", file=sys.stderr)
        return 2
    configs = []
    for enc in args.encodings:
        for layout in args.layouts:
            base = dict(data=args.data, data_dir=args.data_dir, encoding=enc, layout=layout,
                        max_epochs=args.max_epochs)  # fmt: skip
            configs += [HS0Config(**base, seed=s) for s in args.seeds]
            configs += [
                HS0Config(**base, seed=args.seeds[0] if args.seeds else 0, hs0=v, fix_hs0=True)
                for v in args.controls
            ]
    for cfg in configs:
        path = args.cache / f"{run_name(cfg)}.json"
        if path.exists() and not args.force:
            print(f"  {path.stem}: cached, skipped")
            continue
        name = path.stem

        def log(msg: str, name: str = name) -> None:
            print(f"  {name}: {msg}", flush=True)

        rec = train_to_convergence(cfg, data, log)
        log(f"done: test accuracy {rec['test_accuracy']:.3f}, {rec['epochs_run']} epochs "
            f"({rec['stop_reason']}), classes {rec['class_counts']}, modal {rec['modal_type']} "
            f"{rec['modal_fraction']:.2f}, {rec['seconds']:.0f} s")  # fmt: skip
        write_json(path, rec)
    runs = [json.loads(p.read_text()) for p in sorted(args.cache.glob("*.json"))]
    if not runs:
        print(f"no runs in {args.cache}")
        return 2
    write_results(args.out, {"protocol": "fidelity.md 5", "runs": runs})
    print(summary(runs))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
