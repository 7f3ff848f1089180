"""The ANN baseline's default training budget: a small documented search on digits.

A default baseline must not be under-trained (docs/energy-model.md, "Fair baselines"): the
trainer's former ANN default (30 epochs at lr 1e-3) stopped while the validation loss was still
falling. This script trains the ANN baseline (64 hidden, the trainer's model selection: the epoch
with the lowest validation loss) for every (epochs, lr) of a small grid and three seeds, and
reports the test accuracy per setting. The trainer's default for the ANN family is the setting at
lr 1e-3 with the best mean (lr 1e-3 stays the ANN's default learning rate: the golden training
fixture pins it; only the default number of epochs changes).

Writes ``benchmarks/results/ann_defaults.json`` and ``.md`` (``--quick``: two settings, one seed,
under ``results/quick/``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from modspike.train.trainer import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results"
GRID = ((30, 1e-3), (100, 1e-3), (200, 1e-3), (300, 1e-3), (30, 3e-3), (100, 3e-3))
SEEDS = (0, 1, 2)


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    grid = GRID[:2] if quick else GRID
    seeds = SEEDS[:1] if quick else SEEDS
    rows = []
    for epochs, lr in grid:
        accs, secs = [], []
        for seed in seeds:
            t0 = time.perf_counter()
            cfg = TrainConfig(cell="ann", hidden=64, epochs=epochs, lr=lr, seed=seed)
            _, metrics = train(cfg, progress=False)
            secs.append(time.perf_counter() - t0)
            accs.append(metrics["test_accuracy"])
        row = {
            "epochs": epochs,
            "lr": lr,
            "test_accuracy": accs,
            "mean": statistics.mean(accs),
            "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "seconds_per_run": statistics.mean(secs),
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    best = max(r["mean"] for r in rows)
    ok = [r for r in rows if r["lr"] == 1e-3]
    chosen = max(ok, key=lambda r: (r["mean"], -r["epochs"])) if ok else None
    return {
        "what": "ANN baseline (digits, 64 hidden) test accuracy over epochs x lr, 3 seeds",
        "seeds": list(seeds),
        "rows": rows,
        "best_mean": best,
        "chosen_default": None if chosen is None else {"epochs": chosen["epochs"], "lr": 1e-3},
        "rule": "the lr-1e-3 setting with the best mean test accuracy",
    }


def markdown(res: dict) -> str:
    lines = [
        "| epochs | lr | test accuracy (seeds " + ", ".join(map(str, res["seeds"])) + ") | mean"
        " | s / run |",
        "|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        accs = " / ".join(f"{a:.3f}" for a in r["test_accuracy"])
        lines.append(
            f"| {r['epochs']} | {r['lr']:g} | {accs} | {r['mean']:.3f} ± {r['std']:.3f}"
            f" | {r['seconds_per_run']:.1f} |"
        )
    lines.append("")
    lines.append(f"Chosen default: {res['chosen_default']} ({res['rule']}).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    out = RESULTS / "quick" if args.quick else RESULTS
    res = run(args.quick)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ann_defaults.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "ann_defaults.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
