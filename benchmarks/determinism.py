"""What a training run reproduces (issue 14, item 8; docs/reliability.md).

Trains the same configuration several times, each in a fresh process with a fixed torch
intra-op thread count, and compares the run directories file by file: ``model.safetensors`` and
``config.json`` byte for byte, ``metrics.json`` without its wall-clock ``seconds``, and the largest
weight difference and loss difference between runs. Adds the configuration's entry to ``benchmarks/results/determinism.json`` and prints a markdown
table.

    nice -n 19 .venv/bin/python benchmarks/determinism.py            # threads 1, 1, 2, 2
    nice -n 19 .venv/bin/python benchmarks/determinism.py --cell lif --epochs 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CHILD = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from modspike.cli import main
sys.exit(main(sys.argv[2:]))
"""


def train(out: Path, threads: int, args: argparse.Namespace) -> Path:
    argv = [
        "train",
        "--cell",
        args.cell,
        "--hidden",
        str(args.hidden),
        "--epochs",
        str(args.epochs),
    ]
    argv += ["--steps", str(args.steps), "--seed", str(args.seed), "--quiet", "--out", str(out)]
    argv += ["--batch-size", str(args.batch_size), "--data", args.data]
    argv += ["--data-dir", args.data_dir] if args.data_dir else []
    argv += ["--qat"] if args.qat else []
    subprocess.run([sys.executable, "-c", CHILD, str(threads), *argv], check=True)
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def compare(a: Path, b: Path) -> dict:
    from safetensors.torch import load_file

    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    for m in (ma, mb):
        m.pop("seconds", None)
    ca, cb = (json.loads((p / "config.json").read_text()) for p in (a, b))
    loss_a = [h["loss"] for h in ma["history"]]
    loss_b = [h["loss"] for h in mb["history"]]
    return {
        "weights_identical": digest(a / "model.safetensors") == digest(b / "model.safetensors"),
        "max_abs_weight_difference": max(
            float((wa[k].double() - wb[k].double()).abs().max()) if wa[k].numel() else 0.0
            for k in wa
        ),
        "config_identical": ca == cb,
        "config_differs_in": sorted(
            f"{s}.{k}"
            for s in ca
            if isinstance(ca[s], dict)
            for k in ca[s]
            if ca[s].get(k) != cb.get(s, {}).get(k)
        ),
        "metrics_identical_without_seconds": ma == mb,
        "max_abs_loss_difference": max(abs(x - y) for x, y in zip(loss_a, loss_b)),
        "test_accuracy": [ma["test_accuracy"], mb["test_accuracy"]],
        "torch_threads": [ca["environment"]["torch_threads"], cb["environment"]["torch_threads"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="src")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--qat", action="store_true")
    parser.add_argument("--threads", default="1,1,2,2", help="thread count of each run")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [train(Path(tmp) / f"run{i}", t, args) for i, t in enumerate(threads)]
        pairs = [(i, j) for i in range(len(runs)) for j in range(i + 1, len(runs))]
        rows = []
        for i, j in pairs:
            row = compare(runs[i], runs[j])
            rows.append({"runs": [i, j], **row})
    label = (
        f"{args.cell}{' qat' if args.qat else ''} on {args.data}, hidden {args.hidden},"
        f" {args.epochs} epochs, T = {args.steps}, batch {args.batch_size}, seed {args.seed}"
    )
    path = RESULTS / "determinism.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[label] = {"config": vars(args), "comparisons": rows}  # one entry per configuration
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(label)
    print("| threads | model.safetensors | max abs weight diff | config.json | metrics.json"
          " (no seconds) | max abs loss diff | test accuracy |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        t = r["torch_threads"]
        config = (
            "same" if r["config_identical"] else "differs in " + ", ".join(r["config_differs_in"])
        )
        print(
            f"| {t[0]} vs {t[1]} | {'identical' if r['weights_identical'] else 'differs'} |"
            f" {r['max_abs_weight_difference']:.3g} | {config} |"
            f" {'identical' if r['metrics_identical_without_seconds'] else 'differs'} |"
            f" {r['max_abs_loss_difference']:.3g} | {r['test_accuracy'][0]:.4f},"
            f" {r['test_accuracy'][1]:.4f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
