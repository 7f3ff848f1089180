"""``modspike sweep``: train and export a grid of spiking networks, price each in the deployed tier
next to its ANN baseline, and keep the accuracy-energy Pareto front.

Grid: cell x T x encoding x regulariser strength (``--reg-synops``) x seed; one ANN baseline per
seed (the trainer's default for the ANN family). Each point is trained
(:func:`modspike.train.trainer.train`), exported at ``bits`` bits with the ANN as its baseline
(:func:`modspike.export.artifact_build.export_run`) and measured like ``modspike report`` does
(:func:`modspike.runtime.report.measure`, simulator): accuracy on the test split, the four tiers,
the deployed band, the break-even. Points are compared only with the ANN of their own seed and
only inside the deployed tier (one technology, one band at a time).

The goal test (docs/energy-model.md, "Sweep"): a point within ``goal_points`` accuracy points of
the int8 ANN whose deployed central energy is at most the ANN's. When none is, the closest point
and the bound that rules it out (its break-even input events and T_max) are reported.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from modspike.errors import ConfigError, ModspikeError
from modspike.rundir import atomic_directory, write_json

SCHEMA = "modspike-sweep/1"
COMPARATORS = ("int8_dense", "int8_zero_skip")


@dataclass(frozen=True)
class Point:
    """One grid point (``threshold``: the latency code's, None for other codes)."""

    cell: str
    steps: int
    encoding: str
    reg_synops: float
    seed: int
    hidden: int = 64
    threshold: float | None = None

    @property
    def code(self) -> str:
        return self.encoding if self.threshold is None else f"{self.encoding}{self.threshold:g}"

    @property
    def id(self) -> str:
        return (
            f"{self.cell}-h{self.hidden}-T{self.steps}-{self.code}-l{self.reg_synops:g}"
            f"-s{self.seed}"
        )

    @property
    def ann_key(self) -> str:
        """The ANN baseline it is compared with: same seed, same hidden size."""
        return f"s{self.seed}-h{self.hidden}"


def parse_encoding(text: str) -> tuple[str, float | None]:
    """``rate``, ``latency`` (threshold 0.01) or ``latency:X``."""
    from modspike.encoding import ENCODINGS, LATENCY_THRESHOLD

    name, _, rest = text.partition(":")
    if name not in ENCODINGS:
        raise ConfigError(f"--encodings: {name!r}; choose from {', '.join(ENCODINGS)}")
    if name != "latency":
        if rest:
            raise ConfigError(f"--encodings: only the latency code takes a threshold ({text!r})")
        return name, None
    try:
        thr = float(rest) if rest else LATENCY_THRESHOLD
    except ValueError:
        raise ConfigError(f"--encodings: {text!r}: the threshold is not a number") from None
    if not 0 <= thr < 1:
        raise ConfigError(f"--encodings: {text!r}: the threshold must lie in [0, 1)")
    return name, thr


@dataclass(frozen=True)
class SweepConfig:
    """What every point shares."""

    data: str = "digits"
    data_dir: str | None = None
    epochs: int = 30
    bits: int = 8
    gain: float = 0.8
    lr: float | None = None
    ann_epochs: int | None = None  # None: the trainer's ANN default
    ann_lr: float | None = None
    limit: int | None = None  # training samples (quick checks)
    eval_limit: int | None = None  # test samples measured
    backend: str = "sim"
    goal_points: float = 1.0


def grid(
    cells: Sequence[str],
    steps: Sequence[int],
    encodings: Sequence[str],
    reg_synops: Sequence[float],
    seeds: Sequence[int],
    hidden: Sequence[int] = (64,),
) -> list[Point]:
    """Every combination, validated (trainable cells, encodings as :func:`parse_encoding`,
    positive T and hidden sizes, non-negative strengths and seeds)."""
    from modspike.train.modules import is_ann, model_names
    from modspike.validate import MAX_HIDDEN, MAX_SEED, MAX_STEPS

    for name, values in (
        ("cells", cells),
        ("steps", steps),
        ("encodings", encodings),
        ("reg-synops", reg_synops),
        ("seeds", seeds),
        ("hidden", hidden),
    ):
        if not values:
            raise ConfigError(f"--{name}: give at least one value")
    for c in cells:
        if c not in model_names() or is_ann(c):
            raise ConfigError(f"--cells: {c!r} is not a spiking cell that trains")
    codes = [parse_encoding(e) for e in encodings]
    for name, values, hi in (
        ("steps", steps, MAX_STEPS),
        ("hidden", hidden, MAX_HIDDEN),
        ("seeds", seeds, MAX_SEED),
    ):
        for x in values:
            lo = 0 if name == "seeds" else 1
            if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
                raise ConfigError(f"--{name}: {x!r} is not an integer in [{lo}, {hi}]")
    for lam in reg_synops:
        if not (isinstance(lam, (int, float)) and math.isfinite(lam) and 0 <= lam <= 1e6):
            raise ConfigError(f"--reg-synops: {lam!r} is not a number in [0, 1e6]")
    pts = [
        Point(c, int(t), e, float(lam), int(s), int(h), thr)
        for s in seeds
        for h in hidden
        for c in cells
        for t in steps
        for e, thr in codes
        for lam in reg_synops
    ]
    return list(dict.fromkeys(pts))


# ----------------------------------------------------------------------------- training


def _train(cfg, out: Path) -> tuple[dict, float]:
    from modspike.train.trainer import train

    t0 = time.perf_counter()
    _, metrics = train(cfg, out=out, progress=False)
    return metrics, time.perf_counter() - t0


def _ann(seed: int, hidden: int, sc: SweepConfig, out: Path) -> dict:
    from modspike.train.trainer import TrainConfig

    cfg = TrainConfig(
        cell="ann",
        data=sc.data,
        data_dir=sc.data_dir,
        hidden=hidden,
        epochs=sc.ann_epochs,
        lr=sc.ann_lr,
        seed=seed,
        limit=sc.limit,
    )
    metrics, seconds = _train(cfg, out)
    return {
        "seed": seed,
        "hidden": hidden,
        "epochs": cfg.epochs,
        "lr": cfg.learning_rate,
        "float_accuracy": metrics["test_accuracy"],
        "train_seconds": seconds,
    }


def _summary(entry: dict) -> dict:
    """The compact record of one measured artifact (the full entry goes to its own file)."""
    d = entry["tiers"]["deployed"]
    if "unavailable" in d:
        raise ConfigError(f"the deployed tier cannot price this network: {d['unavailable']}")
    layers = list(entry["counts"]["layers"].values())
    snn = d["snn"]
    ann = entry["ann"]
    be = d["break_even"]
    plat = entry["tiers"]["platform"]
    return {
        "accuracy": entry["accuracy"],
        "counts": {
            "input_events": layers[0]["input_events"],
            "hidden_events": layers[-1]["spikes"],
            "synaptic_events": sum(r["synaptic_events"] for r in layers),
            "synops_neurobench": entry["counts"]["per_sample"]["effective"],
            "neuron_updates": sum(r["neuron_updates"] for r in layers),
        },
        "energy_pj": snn["energy_pj"],
        "components_pj": snn["results"]["central"]["components_pj"],
        "dominant": snn["dominant"],
        "lemaire_pj": entry["tiers"]["lemaire"]["snn"]["energy_pj"],
        "platform_pj": {r["constant_set"]: r["energy_pj"] for r in plat["snn"]},
        "ann": {
            "accuracy_fp32": ann["accuracy"],
            "accuracy_int8": ann["accuracy_int8"],
            "accuracy_low_bit": ann["accuracy_low_bit"],
            "low_bit_activation_bits": ann["low_bit_activation_bits"],
            "energy_pj": ann["energy_pj_band"],
            "lemaire_pj": entry["tiers"]["lemaire"]["ann"]["energy_pj"],
        },
        "ratios": entry["ratios_deployed"],
        "break_even_input_events": be["break_even_input_events"],
        "t_max": be["t_max"],
        "e0_pj": be["e0_pj"],
        "e_in_pj_per_input_event": be["e_in_pj_per_input_event"],
        "time": d["time"],
    }


def run_point(point: Point, sc: SweepConfig, ann_dir: Path, work: Path, keep: Path | None):
    """Train, export and measure one point; returns its record and its full report entry."""
    from modspike.export.artifact_build import export_run
    from modspike.train.trainer import TrainConfig

    from .report import measure

    run_dir, art = work / point.id / "run", (keep or work) / point.id / "artifact"
    cfg = TrainConfig(
        cell=point.cell,
        data=sc.data,
        data_dir=sc.data_dir,
        encoding=point.encoding,
        steps=point.steps,
        gain=sc.gain,
        hidden=point.hidden,
        epochs=sc.epochs,
        lr=sc.lr,
        seed=point.seed,
        limit=sc.limit,
        reg_synops=point.reg_synops,
        latency_threshold=0.01 if point.threshold is None else point.threshold,
    )
    t0 = time.perf_counter()
    metrics, train_s = _train(cfg, run_dir)
    exported = export_run(run_dir, art, sc.bits, "layer", ann_dir, sc.data_dir)
    entry, _ = measure(
        art, backend=sc.backend, data=sc.data, data_dir=sc.data_dir, limit=sc.eval_limit
    )
    record = {
        "id": point.id,
        **asdict(point),
        "T": point.steps,
        "code": point.code,
        "lambda": point.reg_synops,
        "float_accuracy": exported["float_accuracy"],
        "quantized_accuracy": exported["quantized_accuracy"],
        "trained_test_accuracy": metrics["test_accuracy"],
        "never_active_neurons": metrics.get("never_active_neurons"),
        **_summary(entry),
        "train_seconds": train_s,
        "wall_seconds": time.perf_counter() - t0,
    }
    return record, entry


# ------------------------------------------------------------------------- Pareto, goal


def pareto(points: Sequence[dict]) -> list[str]:
    """Ids of the points no other point beats on both axes (lower central energy, higher
    accuracy), in order of energy."""
    order = sorted(points, key=lambda p: (p["energy_pj"]["central"], -p["accuracy"]))
    front, best = [], -math.inf
    for p in order:
        if p["accuracy"] > best:
            front.append(p["id"])
            best = p["accuracy"]
    return front


def goal(points: Sequence[dict], anns: dict, tolerance: float) -> dict:
    """The goal test against each point's own int8 ANN (dense, central band); the closest
    point and the bound that rules the goal out when no point meets it."""
    rows = []
    for p in points:
        ann = anns[p["ann_key"]]
        gap = ann["accuracy_int8"] - p["accuracy"]
        rows.append((p, gap, p["ratios"]["int8_dense"]["central"]))
    ok_acc = [(p, g, r) for p, g, r in rows if g <= tolerance + 1e-12]
    met = [(p, g, r) for p, g, r in ok_acc if r <= 1.0]
    out: dict = {
        "rule": f"accuracy >= int8 ANN accuracy - {tolerance:g} and deployed central energy <="
        " the int8 ANN's (dense), same seed and hidden size, same constant set",
        "met": bool(met),
        "meeting": [p["id"] for p, _, _ in sorted(met, key=lambda x: x[2])],
    }
    pool = ok_acc or sorted(rows, key=lambda x: x[1])[:1]
    p, gap, ratio = min(pool, key=lambda x: x[2]) if ok_acc else pool[0]
    be = p["break_even_input_events"]
    dense, skip = be["int8_dense"]["central"], be.get("int8_zero_skip", {}).get("central")

    def bound(x):
        return "none (E_0 alone exceeds the ANN)" if x is None else f"X_0 <= {x:.1f}"

    out["closest"] = p["id"]
    out["closest_ratio_vs_int8_dense"] = ratio
    out["closest_accuracy_gap_points"] = 100 * gap
    out["bound"] = (
        f"{p['cell']}, {p['hidden']} hidden, T = {p['T']}, {p['code']}: {bound(dense)} input events per inference"
        f" against the dense int8 ANN, {bound(skip)} against the zero-skipping one (measured"
        f" X_0 = {p['counts']['input_events']:.1f}); E_0 = {p['e0_pj']['central'] / 1e3:.3g} nJ;"
        f" T_max = {p['t_max']['int8_dense']} (dense), {p['t_max'].get('int8_zero_skip')}"
        " (zero-skip)"
    )
    return out


# ------------------------------------------------------------------------------ writing


def figure(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    best_ann = max(a["accuracy_int8"] for a in result["ann"].values())
    floor = best_ann - 0.06  # the goal is at the top: points far below it are listed, not drawn
    hidden_pts = [p for p in pts if p["accuracy"] < floor]
    pts = [p for p in pts if p["accuracy"] >= floor]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    cells = sorted({p["cell"] for p in pts})
    colors = dict(zip(cells, plt.get_cmap("tab10").colors))
    markers = {"rate": "o", "latency": "s"}  # any latency threshold: a square
    for p in pts:
        e = p["energy_pj"]
        mid = e["central"] / 1e3
        ax.errorbar(
            mid,
            p["accuracy"],
            xerr=[[mid - e["low"] / 1e3], [e["high"] / 1e3 - mid]],
            fmt=markers.get(p["encoding"], "^"),
            color=colors[p["cell"]],
            ms=3 + p["T"] ** 0.5,
            alpha=0.75,
            elinewidth=0.6,
            capsize=0,
        )
    if hidden_pts:
        names = ", ".join(f"{p['id']} ({p['accuracy']:.3f})" for p in hidden_pts[:6])
        more = f" and {len(hidden_pts) - 6} more" if len(hidden_pts) > 6 else ""
        ax.text(0.01, 0.01, f"below {floor:.2f}, not drawn: {names}{more}", fontsize=6,
                transform=ax.transAxes, wrap=True)  # fmt: skip
    front = [p for p in pts if p["pareto"]]
    front.sort(key=lambda p: p["energy_pj"]["central"])
    ax.step(
        [p["energy_pj"]["central"] / 1e3 for p in front],
        [p["accuracy"] for p in front],
        where="post",
        color="k",
        lw=1,
        label="Pareto front (central)",
    )
    for ann in result["ann"].values():
        for v, style in (("int8_dense", "-"), ("int8_zero_skip", "--")):
            band = ann["energy_pj"][v]
            ax.axvspan(band["low"] / 1e3, band["high"] / 1e3, color="tab:red", alpha=0.04)
            ax.axvline(band["central"] / 1e3, color="tab:red", ls=style, lw=0.8)
        ax.axhline(ann["accuracy_int8"], color="tab:red", lw=0.6, alpha=0.5)
        goal_floor = ann["accuracy_int8"] - result["goal_tolerance"]
        ax.axhline(goal_floor, color="tab:red", lw=0.6, ls=":", alpha=0.5)
        top = max([ann["accuracy_int8"]] + [p["accuracy"] for p in pts]) + 0.002
        if not pts:
            continue
        right = ann["energy_pj"]["int8_dense"]["central"] / 1e3
        left = min(p["energy_pj"]["low"] for p in pts) / 2e3
        ax.fill_between([left, right], goal_floor, top, color="tab:green", alpha=0.06)
    for c in cells:
        ax.scatter([], [], color=colors[c], label=c)
    for enc, m in markers.items():
        ax.scatter([], [], marker=m, color="gray", label=enc)
    ax.plot([], [], color="tab:red", label="int8 ANN dense (solid) / zero-skip (dashed)")
    ax.fill_between([], [], [], color="tab:green", alpha=0.2, label="goal region (vs dense)")
    ax.set_xscale("log")
    ax.set_xlabel("deployed-tier energy per inference (nJ, log; whiskers: low-high band)")
    ax.set_ylabel(f"test accuracy ({result['backend']})")
    ax.set_title(f"{result['data']}: accuracy vs energy (modeled; marker size ~ sqrt(T))")
    ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def markdown(result: dict) -> str:
    lines = [
        f"# modspike sweep: {result['data']}",
        "",
        "Everything is **modeled** (deployed tier, one technology for SNN and ANN; central band,"
        " low-high in brackets).",
        "",
        "| point | acc. | input events | hidden events | SNN nJ | int8 ANN acc. | SNN / ANN dense"
        " | SNN / ANN zero-skip | dominant | Pareto |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(result["points"], key=lambda p: p["energy_pj"]["central"]):
        e, r = p["energy_pj"], p["ratios"]
        lines.append(
            f"| {p['id']} | {p['accuracy']:.3f} | {p['counts']['input_events']:.1f}"
            f" | {p['counts']['hidden_events']:.1f}"
            f" | {e['central'] / 1e3:.3g} ({e['low'] / 1e3:.3g}-{e['high'] / 1e3:.3g})"
            f" | {p['ann']['accuracy_int8']:.3f} | {r['int8_dense']['central']:.3g}x"
            f" | {r['int8_zero_skip']['central']:.3g}x | {p['dominant']['part']}"
            f" | {'yes' if p['pareto'] else ''} |"
        )
    g = result["goal"]
    lines += ["", f"Goal ({g['rule']}): **{'met' if g['met'] else 'not met'}**."]
    if g["met"]:
        lines.append(f"Meeting it: {', '.join(g['meeting'])}.")
    lines.append(
        f"Closest: {g['closest']} ({g['closest_ratio_vs_int8_dense']:.3g}x the dense int8 ANN,"
        f" {g['closest_accuracy_gap_points']:.1f} points below it). Bound: {g['bound']}."
    )
    return "\n".join(lines) + "\n"


def run_sweep(
    points: Sequence[Point],
    sc: SweepConfig,
    out: str | Path | None,
    progress: bool = True,
    keep_artifacts: bool = True,
) -> dict:
    """Train, export and measure every point; write ``out/{sweep.json, sweep.md, pareto.png}``
    (and ``points/<id>/{artifact/, entry.json}`` with ``keep_artifacts``) atomically."""
    if not points:
        raise ConfigError("the sweep has no point")
    t_start = time.perf_counter()
    records, anns = [], {}

    def body(dest: Path | None, work: Path) -> dict:
        seeds = sorted({p.seed for p in points})
        keys = sorted({(p.seed, p.hidden) for p in points})
        bar = tqdm(total=len(points) + len(keys), desc="sweep", unit="run", disable=not progress)
        ann_dirs = {}
        for s, h in keys:
            key = f"s{s}-h{h}"
            bar.set_postfix_str(f"ann {key}")
            ann_dirs[key] = work / f"ann-{key}"
            anns[key] = _ann(s, h, sc, ann_dirs[key])
            bar.update()
        for p in points:
            bar.set_postfix_str(p.id)
            keep = dest / "points" if (dest is not None and keep_artifacts) else None
            try:
                rec, entry = run_point(p, sc, ann_dirs[p.ann_key], work, keep)
            except ModspikeError as exc:  # a point that cannot be exported is a result too
                rec, entry = {"id": p.id, **asdict(p), "failed": str(exc)}, None
            rec["ann_key"] = p.ann_key
            if entry is not None and keep is not None:
                write_json(keep / p.id / "entry.json", entry)
            records.append(rec)
            ann = anns[p.ann_key]
            if "ann" in rec and "accuracy_int8" not in ann:
                ann.update(
                    {
                        "accuracy_fp32": rec["ann"]["accuracy_fp32"],
                        "accuracy_int8": rec["ann"]["accuracy_int8"],
                        "energy_pj": {
                            v: rec["ann"]["energy_pj"][v] for v in COMPARATORS
                        },  # the low-bit ANN's depends on T: under "low_bit"
                        "lemaire_pj": rec["ann"]["lemaire_pj"],
                    }
                )
            if "ann" in rec:
                ann.setdefault("low_bit", {})[str(p.steps)] = {
                    "activation_bits": rec["ann"]["low_bit_activation_bits"],
                    "accuracy": rec["ann"]["accuracy_low_bit"],
                    "energy_pj": rec["ann"]["energy_pj"]["low_bit"],
                    "method": "post-training quantisation of the same ANN (no retraining)",
                }
            bar.update()
        bar.close()
        ok = [r for r in records if "failed" not in r]
        front = set(pareto(ok)) if ok else set()
        for r in ok:
            r["pareto"] = r["id"] in front
            r["ratio_vs_int8_dense"] = r["ratios"]["int8_dense"]["central"]
        result = {
            "schema": SCHEMA,
            "kind": "modeled",
            "tier": "deployed",
            "data": sc.data,
            "backend": sc.backend,
            "config": asdict(sc),
            "grid": {
                "cells": sorted({p.cell for p in points}),
                "hidden": sorted({p.hidden for p in points}),
                "steps": sorted({p.steps for p in points}),
                "encodings": sorted({p.code for p in points}),
                "reg_synops": sorted({p.reg_synops for p in points}),
                "seeds": seeds,
            },
            "ann": anns,
            "goal_tolerance": sc.goal_points / 100.0,
            "points": ok,
            "failed": [r for r in records if "failed" in r],
            "pareto": [
                r["id"] for r in sorted(ok, key=lambda r: r["energy_pj"]["central"]) if r["pareto"]
            ],  # fmt: skip
            "goal": goal(ok, anns, sc.goal_points / 100.0) if ok else None,
            "wall_seconds": time.perf_counter() - t_start,
        }
        if dest is not None:
            write_json(dest / "sweep.json", result)
            if ok:
                (dest / "sweep.md").write_text(markdown(result))
                figure(result, dest / "pareto.png")
        return result

    with tempfile.TemporaryDirectory(prefix="modspike-sweep-") as work:
        if out is None:
            return body(None, Path(work))
        with atomic_directory(out) as tmp:
            tmp.chmod(0o755)
            return body(tmp, Path(work))


def parse_list(text: str, kind, name: str) -> list:
    """A comma-separated option value as a list of ``kind`` values (one-line errors)."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ConfigError(f"--{name}: give at least one value")
    out = []
    for t in items:
        try:
            v = kind(t)
        except ValueError:
            raise ConfigError(f"--{name}: {t!r} is not a valid value") from None
        if isinstance(v, float) and not np.isfinite(v):
            raise ConfigError(f"--{name}: {t!r} is not finite")
        out.append(v)
    return out


def load_sweep(path: str | Path) -> dict:
    """A written ``sweep.json`` (for the README table)."""
    data = json.loads(Path(path).read_text())
    if data.get("schema") != SCHEMA:
        raise ConfigError(f"{path}: not a {SCHEMA} file")
    return data
