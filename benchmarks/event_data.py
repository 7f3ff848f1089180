"""Diagnostics of the dvs-digits event-camera stand-in (``modspike.events.dvs``).

For every digit of scikit-learn's set (1797 samples, seed 0, the default ``StandIn``):

- events per sample (mean, sd, min, max), per class, ON fraction, first event time;
- the binned frames of ``load_event_dataset("dvs-digits")``'s clock (25 bins over 305 ms, ON/OFF
  channels, 24x24, and the same with 2x2 sum pooling): fraction of non-zero cells, mean and max
  count of a non-zero cell, saturated cells;
- generation time per sample, as a ratio to a baseline run in the same process: rendering the
  same frames of the moving digits without the pixel model (rounds interleaved, medians);
- the scene-sampling step: events per sample at ``step_us`` = 500 against the default 1000 on the
  first 300 digits.

Writes ``benchmarks/results/event_data.{json,md}`` and a figure of one sample per class,
``benchmarks/results/event_standin.png`` (``--quick``: 300 samples, into ``results/quick/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from modspike.events import StandIn, bin_events, make_binning, render, standin_events
from modspike.events.datasets import DEFAULT_BINS

RESULTS = Path(__file__).resolve().parent / "results"
ROUNDS = 3


def render_only(images: np.ndarray, cfg: StandIn) -> None:
    """The baseline: the moving scene's log-intensity frames, no pixel model."""
    for start in range(0, len(images), 256):
        batch = images[start : start + 256]
        shift = np.zeros((len(batch), 2))
        for t in range(0, cfg.duration_us + 1, cfg.step_us):
            render(batch, shift + cfg.offset(t), cfg)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def frame_stats(events: list[np.ndarray], cfg: StandIn, downsample: int) -> dict:
    binning = make_binning(cfg.duration_us, bins=DEFAULT_BINS["dvs-digits"], downsample=downsample)
    frames = np.stack([bin_events(ev, cfg.sensor, binning) for ev in events])
    nonzero = frames[frames > 0]
    return {
        "shape": list(frames.shape[1:]),
        "nonzero_fraction": float((frames > 0).mean()),
        "mean_nonzero_count": float(nonzero.mean()),
        "max_count": int(frames.max()),
        "saturated_cells": int((frames == 255).sum()),
    }


def figure(images, labels, events, cfg: StandIn, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 6
    binning = make_binning(cfg.duration_us, bins=columns)
    picks = [int(np.flatnonzero(labels == c)[0]) for c in range(10)]
    fig, axes = plt.subplots(10, columns + 1, figsize=(1.3 * (columns + 1), 13.5))
    for row, i in enumerate(picks):
        axes[row, 0].imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(f"digit {labels[i]}")
        frames = bin_events(events[i], cfg.sensor, binning).astype(float)
        scale = max(frames.max(), 1.0)
        for k in range(columns):
            rgb = np.zeros((*frames.shape[2:], 3))
            rgb[..., 0] = frames[k, 1] / scale  # ON red
            rgb[..., 2] = frames[k, 0] / scale  # OFF blue
            axes[row, k + 1].imshow(np.clip(rgb * 2.5, 0, 1))
            if row == 0:
                lo, hi = k * binning.bin_us / 1000, (k + 1) * binning.bin_us / 1000
                axes[row, k + 1].set_title(f"{lo:.0f}-{hi:.0f} ms", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("8x8 source", fontsize=8)
    fig.suptitle("dvs-digits stand-in: ON (red) and OFF (blue) events per 1/6 of the recording")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 samples, results/quick/")
    args = parser.parse_args()
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)

    bunch = load_digits()
    n = 300 if args.quick else len(bunch.target)
    images, labels = bunch.images[:n] / 16.0, bunch.target[:n]
    cfg = StandIn()

    gen_s, base_s, events = [], [], None
    for r in range(ROUNDS):
        t_gen, events = timed(lambda: standin_events(images, np.arange(n), 0, cfg))
        t_base, _ = timed(lambda: render_only(images, cfg))
        gen_s.append(t_gen)
        base_s.append(t_base)
        print(f"round {r}: generation {t_gen:.2f} s, rendering only {t_base:.2f} s", flush=True)
    counts = np.array([len(ev) for ev in events])
    on_fraction = float(sum(int(ev["p"].sum()) for ev in events) / counts.sum())

    m = min(n, 300)
    fine = standin_events(images[:m], np.arange(m), 0, replace(cfg, step_us=500))
    coarse_mean = float(counts[:m].mean())
    fine_mean = float(np.mean([len(ev) for ev in fine]))

    result = {
        "samples": n,
        "seed": 0,
        "standin": asdict(cfg),
        "events_per_sample": {
            "mean": float(counts.mean()),
            "sd": float(counts.std(ddof=1)),
            "min": int(counts.min()),
            "max": int(counts.max()),
        },
        "events_per_class": {
            int(c): float(counts[labels == c].mean()) for c in range(10) if (labels == c).any()
        },
        "on_fraction": on_fraction,
        "first_event_us_min": int(min(ev["t"][0] for ev in events if len(ev))),
        "frames": {f"downsample_{k}": frame_stats(events, cfg, k) for k in (1, 2)},
        "generation_ms_per_sample": 1000 * statistics.median(gen_s) / n,
        "render_only_ms_per_sample": 1000 * statistics.median(base_s) / n,
        "generation_over_render_only": statistics.median(g / b for g, b in zip(gen_s, base_s)),
        "step_check": {
            "samples": m,
            "events_step_1000us": coarse_mean,
            "events_step_500us": fine_mean,
            "relative_change": (fine_mean - coarse_mean) / coarse_mean,
        },
        "machine": platform.platform(),
    }
    (out_dir / "event_data.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "event_data.md").write_text(markdown(result))
    figure(images, labels, events, cfg, out_dir / "event_standin.png")
    print(markdown(result))


def markdown(r: dict) -> str:
    e = r["events_per_sample"]
    lines = [
        f"dvs-digits stand-in, {r['samples']} samples, seed {r['seed']}",
        "",
        f"- events per sample: {e['mean']:.0f} +- {e['sd']:.0f} (min {e['min']}, max {e['max']});"
        f" ON fraction {r['on_fraction']:.3f}; first event at {r['first_event_us_min']} us "
        f"(saccades start at {r['standin']['onset_us']} us)",
        "- per class: " + ", ".join(f"{c}: {v:.0f}" for c, v in r["events_per_class"].items()),
        f"- generation {r['generation_ms_per_sample']:.2f} ms per sample, "
        f"{r['generation_over_render_only']:.2f}x the rendering alone "
        f"({r['render_only_ms_per_sample']:.2f} ms)",
        f"- scene step 500 us vs 1000 us ({r['step_check']['samples']} samples): "
        f"{r['step_check']['events_step_500us']:.0f} vs {r['step_check']['events_step_1000us']:.0f}"
        f" events per sample ({100 * r['step_check']['relative_change']:+.1f} %)",
        "",
        "| frames (25 bins) | shape (C, H, W) | non-zero cells | mean non-zero count | max | saturated |",
        "|---|---|---|---|---|---|",
    ]
    for key, f in r["frames"].items():
        lines.append(
            f"| {key.replace('_', ' ')} | {tuple(f['shape'][1:])} | "
            f"{100 * f['nonzero_fraction']:.1f} % | {f['mean_nonzero_count']:.2f} | "
            f"{f['max_count']} | {f['saturated_cells']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
