"""Learnable modulation on data (issue 3 item 4): mSRC networks on digits with h_s0 fixed or learned.

Configurations (mSRC, r = 4, rho = 10, b init -2, detached recurrence; digits, rate code, T = 25,
64 hidden, 30 epochs, Adam 5e-3, batch 64; 3 seeds): h_s0 fixed at 0.5 (type 2*), 0.9 (type 2 just
above the type-1 band) and 1.5 (type 2), and h_s0 learnable per neuron from U(0.5, 1.5). After
training each hidden neuron's h_s0 is classified with the excitability analysis
(``modspike.studies.excitability.analysis``, r = 4, drive entering directly, b = 0, drives 0..16) and the
learned values are histogrammed.

    nice .venv/bin/python benchmarks/hs0_training.py     # results/ and the README section

Writes ``results/hs0_training.{json,md,png}`` and replaces the section "Learnable modulation (mSRC
h_s0)" of ``benchmarks/README.md`` (other sections are left alone).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from modspike.data import load_dataset
from modspike.studies.excitability.analysis import analyze
from modspike.train.modules import build_model
from modspike.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parent
HEADING = "## Learnable modulation (mSRC h_s0)"
CONFIGS = {  # label -> (hs0 init, fixed?)
    "fixed 0.5": ("0.5", True),
    "fixed 0.9": ("0.9", True),
    "fixed 1.5": ("1.5", True),
    "learned, U(0.5, 1.5)": ("0.5:1.5", False),
}
CLASS_ORDER = ("type2*", "type1", "type2", "tonic", "bursting", "silent", "depolarisation_block")
DRIVES = np.linspace(0.0, 16.0, 161)  # wide enough for onsets of h_s0 up to about 2.4


def classify(hs0: np.ndarray) -> list[str]:
    """Excitability class of each h_s0 (r = 4, b = 0), one batched analysis."""
    values, inverse = np.unique(np.round(hs0, 4), return_inverse=True)
    classes = analyze("msrc", hs0=values, drives=DRIVES).classes
    return [classes[i] for i in inverse]


def initial_hs0(cfg: TrainConfig) -> np.ndarray:
    """The h_s0 the model started from: rebuilt exactly as ``train`` builds it (same seed)."""
    data = load_dataset(cfg.data, cfg.data_dir, cfg.split_seed)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model_config(data.n_features, data.n_classes))
    return model.layers[0].cell.hs0.detach().double().numpy()


def one_run(label: str, seed: int, epochs: int) -> dict:
    hs0, fixed = CONFIGS[label]
    cfg = TrainConfig(cell="msrc", hs0=hs0, fix_hs0=fixed, seed=seed, epochs=epochs)
    t0 = time.perf_counter()
    model, metrics = train(cfg, progress=False)
    cell = model.layers[0].cell
    learned = cell.hs0.detach().double().numpy()
    init = initial_hs0(cfg)
    out = {
        "label": label,
        "seed": seed,
        "test_accuracy": metrics["test_accuracy"],
        "never_active": metrics.get("never_active_neurons", [None])[0],
        "seconds": time.perf_counter() - t0,
        "hs0_init": init.tolist(),
        "hs0": learned.tolist(),
        "bias": cell.b.detach().double().numpy().tolist(),
        "classes": classify(learned),
    }
    if not fixed:
        out["classes_init"] = classify(init)
    print(
        f"  {label:22s} seed {seed}: acc {out['test_accuracy']:.3f}, h_s0 "
        f"{np.mean(learned):.3f} +- {np.std(learned):.3f}, {dict(Counter(out['classes']))}, "
        f"{out['seconds']:.0f} s",
        flush=True,
    )
    return out


def _counts(classes: list[str]) -> str:
    c = Counter(classes)
    return ", ".join(f"{name} {c[name]}" for name in CLASS_ORDER if c[name])


def table(runs: list[dict], epochs: int) -> str:
    lines = [
        "| h_s0 | test accuracy (3 seeds) | mean | never-active neurons | h_s0 after training "
        "(mean +- sd [min, max]) | classes after training (64 x 3 neurons) |",
        "|---|---|---|---|---|---|",
    ]
    for label in CONFIGS:
        rs = [r for r in runs if r["label"] == label]
        if not rs:
            continue
        acc = [r["test_accuracy"] for r in rs]
        hs0 = np.concatenate([r["hs0"] for r in rs])
        classes = sum((r["classes"] for r in rs), [])
        lines.append(
            f"| {label} | {' / '.join(f'{a:.3f}' for a in acc)} | {np.mean(acc):.3f} | "
            f"{' / '.join(str(r['never_active']) for r in rs)} | {hs0.mean():.3f} +- "
            f"{hs0.std():.3f} [{hs0.min():.2f}, {hs0.max():.2f}] | {_counts(classes)} |"
        )
    learned = [r for r in runs if "classes_init" in r]
    notes = [
        f"mSRC (r = 4, rho = 10, b init -2, detached recurrence), digits, rate code, T = 25, "
        f"64 hidden, {epochs} epochs, Adam 5e-3, batch 64; classes by `modspike.studies.excitability.analysis` "
        "(r = 4, b = 0, drive entering directly). Type-1 band at r = 4: h_s0 in [0.855, 0.875].",
    ]
    if learned:
        init = sum((r["classes_init"] for r in learned), [])
        h0 = np.concatenate([r["hs0_init"] for r in learned])
        h1 = np.concatenate([r["hs0"] for r in learned])
        shift = h1 - h0
        after = sum((r["classes"] for r in learned), [])
        top0, n0 = Counter(init).most_common(1)[0]
        top1, n1 = Counter(after).most_common(1)[0]
        notes.append(
            f"Most common class of the learned runs: {top0} ({n0} of {len(init)}) before training, "
            f"{top1} ({n1} of {len(after)}) after."
        )
        notes.append(
            f"Learned runs, before training: {_counts(init)}. Per-neuron change of h_s0: "
            f"{shift.mean():+.3f} +- {shift.std():.3f} (largest |change| {np.abs(shift).max():.3f}); "
            f"correlation initial vs learned {np.corrcoef(h0, h1)[0, 1]:.3f}."
        )
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes) + "\n"


def histogram(runs: list[dict], path: Path) -> None:
    """Learned h_s0 of the learnable runs, stacked by excitability class, over the initial draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modspike.studies.excitability.plots import CLASS_COLOURS

    learned = [r for r in runs if "classes_init" in r]
    fig, ax = plt.subplots(figsize=(10, 4))
    bins = np.linspace(0.0, 1.7, 69)
    ax.axvspan(0.855, 0.875, color="tab:green", alpha=0.2, label="type-1 band (r = 4)")
    if learned:
        h0 = np.concatenate([r["hs0_init"] for r in learned])
        h1 = np.concatenate([r["hs0"] for r in learned])
        c1 = np.array(sum((r["classes"] for r in learned), []))
        present = [c for c in CLASS_ORDER if (c1 == c).any()]
        ax.hist(
            [h1[c1 == c] for c in present],
            bins=bins,
            stacked=True,
            color=[CLASS_COLOURS[c] for c in present],
            alpha=0.75,
            label=[f"after training: {c}" for c in present],
        )
        ax.hist(h0, bins=bins, histtype="step", color="0.3", lw=1.2, label="initial U(0.5, 1.5)")
    for value in (0.5, 0.9, 1.5):
        ax.axvline(value, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("h_s0 of a hidden neuron (dotted: the fixed settings)")
    ax.set_ylabel("neurons (64 x 3 seeds)")
    ax.set_title("mSRC on digits: learnable h_s0 before and after training")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(path: Path, body: str) -> None:
    """Replace (or append) this benchmark's section; every other section stays as it is."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{HEADING}\n\n{body}"
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--no-readme", action="store_true", help="do not touch benchmarks/README.md"
    )
    parser.add_argument(
        "--from-json", action="store_true", help="redo the table and figure from results/ only"
    )
    args = parser.parse_args()
    results = ROOT / "results"
    if args.from_json:
        saved = json.loads((results / "hs0_training.json").read_text())
        runs, epochs, seconds = saved["runs"], saved["epochs"], saved["seconds"]
    else:
        torch.set_num_threads(1)  # small batches: threads only contend on a shared machine
        t0 = time.perf_counter()
        runs = [one_run(label, s, args.epochs) for label in CONFIGS for s in range(args.seeds)]
        epochs, seconds = args.epochs, time.perf_counter() - t0
        results.mkdir(exist_ok=True)
        (results / "hs0_training.json").write_text(
            json.dumps({"epochs": epochs, "seconds": seconds, "runs": runs}, indent=1) + "\n"
        )
    body = table(runs, epochs)
    (results / "hs0_training.md").write_text(body)
    histogram(runs, results / "hs0_training.png")
    body += (
        "\n![learned h_s0](results/hs0_training.png)\n\n"
        "Regenerate: `nice .venv/bin/python benchmarks/hs0_training.py` "
        f"({seconds:.0f} s here; results in `benchmarks/results/hs0_training.*`).\n"
    )
    if not args.no_readme:
        update_readme(ROOT / "README.md", body)
    print(body)


if __name__ == "__main__":
    main()
