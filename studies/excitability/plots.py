"""Figures of an excitability analysis (matplotlib, Agg backend): see ``modspike analyze``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from .analysis import SPIKING, Excitability, phase_field, study, trace  # noqa: E402

CLASS_COLOURS = {
    "silent": "0.6",
    "type1": "tab:green",
    "type2": "tab:blue",
    "type2*": "tab:red",
    "bursting": "tab:purple",
    "tonic": "tab:orange",
    "depolarisation_block": "k",
}
SEED_HS0 = (0.5, 0.87, 1.5)  # the seed's type 2*, type 1 and type 2 examples


def pick_rows(hs0: np.ndarray, targets: Sequence[float] = SEED_HS0, most: int = 4) -> list[int]:
    """Rows to plot one by one: all of them when few, else those nearest to ``targets``."""
    if len(hs0) <= most or not np.isfinite(hs0).all():
        return list(range(min(len(hs0), most)))
    rows = sorted({int(np.argmin(np.abs(hs0 - t))) for t in targets})
    return rows


def _label(res: Excitability, k: int) -> str:
    hs0 = res.hs0[k]
    head = f"{res.cell}" if not np.isfinite(hs0) else f"h_s0 = {hs0:.3g}"
    return f"{head} ({res.classes[k]})"


def fi_curves(res: Excitability, path: Path, rows: Sequence[int] | None = None) -> Path:
    """Firing rate against drive, swept up from rest (solid) and down from spiking (dashed)."""
    rows = pick_rows(res.hs0) if rows is None else rows
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for n, k in enumerate(rows):
        colour = f"C{n}"
        ax.plot(res.drives, 100 * res.rate_up[k], "-", color=colour, label=_label(res, k) + " up")
        ax.plot(res.drives, 100 * res.rate_down[k], "--", color=colour, label="down")
        for edge, marker in ((res.onset[k], "^"), (res.offset[k], "v")):
            if np.isfinite(edge):
                ax.plot([edge], [0], marker, color=colour, ms=7, clip_on=False)
    ax.set_xlabel("drive x (steady input to the fast equation)")
    ax.set_ylabel("firing rate (spikes per 100 steps)")
    ax.set_title(f"{res.cell} f-I curves (r = {res.r:g}, synapse alpha = {res.synapse_alpha:g})")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def heatmaps(res: Excitability, path: Path) -> Path:
    """Rate (up, down), bistable region, delay against (drive, h_s0); widths and onset ISIs."""
    x, y = res.drives, res.hs0

    def show(ax, data, **kw):
        return ax.pcolormesh(x, y, data, shading="nearest", **kw)

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    (a_up, a_down, a_bi), (a_delay, a_width, a_isi) = axes
    vmax = max(float(np.nanmax(res.rate_up)), float(np.nanmax(res.rate_down)), 1e-6) * 100
    sweeps = ((a_up, res.rate_up, "up from rest"), (a_down, res.rate_down, "down from spiking"))
    for ax, rate, name in sweeps:
        im = show(ax, 100 * rate, cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(f"firing rate, swept {name}")
        fig.colorbar(im, ax=ax, label="spikes per 100 steps")
    bistable = (res.state_down == SPIKING) & (res.state_up != SPIKING)
    show(a_bi, bistable.astype(float), cmap="Reds", vmin=0, vmax=1.5)
    a_bi.plot(res.onset, res.hs0, "k-", lw=1, label="onset (up)")
    a_bi.plot(res.offset, res.hs0, "k--", lw=1, label="offset (down)")
    a_bi.set_title("hysteresis: spikes on the way down only (red)")
    a_bi.legend(fontsize=8)
    delay = np.where(np.isfinite(res.delay_map), res.delay_map, np.nan)
    finite = delay[np.isfinite(delay)]
    norm = (
        LogNorm(vmin=max(1.0, finite.min()), vmax=max(2.0, finite.max())) if finite.size else None
    )
    im = show(a_delay, np.ma.masked_invalid(delay), cmap="magma", norm=norm)
    a_delay.set_title(f"delay to first spike after a step from rest at {res.rest_drive:g}")
    fig.colorbar(im, ax=a_delay, label="steps")
    for ax in (a_up, a_down, a_bi, a_delay):
        ax.set_xlabel("drive x")
        ax.set_ylabel("h_s0")
    colours = [CLASS_COLOURS.get(c, "0.5") for c in res.classes]
    a_width.plot(res.hs0, res.hysteresis, "-", color="0.7")
    a_width.scatter(res.hs0, res.hysteresis, c=colours, s=18, zorder=3)
    a_width.set_xlabel("h_s0")
    a_width.set_ylabel("hysteresis width (onset - offset)")
    a_width.set_title("hysteresis width (colour = class)")
    for name, colour in CLASS_COLOURS.items():
        if name in res.classes:
            a_width.scatter([], [], c=colour, label=name)
    a_width.legend(fontsize=8)
    e_far, e_near = res.protocol.isi_offsets
    a_isi.semilogy(res.hs0, res.onset_isi, "o-", ms=3, label=f"ISI at onset + {e_far:g}")
    a_isi.semilogy(res.hs0, res.onset_isi_near, "s-", ms=3, label=f"ISI at onset + {e_near:g}")
    a_isi.set_xlabel("h_s0")
    a_isi.set_ylabel("onset ISI (steps)")
    a_isi.set_title("onset ISI: diverges at a type-1 onset")
    a_isi.legend(fontsize=8)
    fig.suptitle(
        f"{res.cell}, r = {res.r:g}, bias = {res.bias:g}, synapse alpha = {res.synapse_alpha:g}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _cell_args(res: Excitability) -> tuple[float, float, float]:
    """``(r, synapse_alpha, bias)`` of the analysis, for :func:`trace`."""
    return res.r, res.synapse_alpha, res.bias


def _probe_drive(res: Excitability, k: int) -> float:
    """A drive just above onset (or the middle of the range when there is none)."""
    if np.isfinite(res.onset[k]):
        return float(res.onset[k] + 0.05)
    return float(np.median(res.drives))


def phase_portraits(
    res: Excitability, path: Path, rows: Sequence[int] | None = None, steps: int = 400
) -> Path:
    """Nullclines of h and h_s at a drive just above onset, with the trajectory from rest."""
    rows = pick_rows(res.hs0) if rows is None else rows
    fig, axes = plt.subplots(1, len(rows), figsize=(4.6 * len(rows), 4.3), squeeze=False)
    h = np.linspace(-1.0, 1.0, 241)
    hs = np.linspace(-1.2, 1.2, 241)
    for ax, k in zip(axes[0], rows):
        hs0 = None if not np.isfinite(res.hs0[k]) else float(res.hs0[k])
        drive = _probe_drive(res, k)
        tr = trace(res.cell, hs0, drive, steps, res.rest_drive, *_cell_args(res))
        hu = float(np.mean(tr["hu"]))
        dh, dhs = phase_field(res.cell, hs0, drive, h, hs, hu, res.r, res.bias)
        ax.contour(hs, h, dh, levels=[0], colors="tab:blue", linewidths=1.5)
        ax.contour(hs, h, dhs, levels=[0], colors="tab:orange", linewidths=1.5)
        ax.plot(tr["hs"], tr["h"], ".-", color="k", lw=0.3, ms=2.5, alpha=0.8)
        ax.plot([tr["rest"][1]], [tr["rest"][0]], "ko", ms=4)
        ax.axhline(0.5, color="0.7", lw=0.6, ls=":")
        ax.set_xlabel("h_s")
        ax.set_ylabel("h")
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(f"{_label(res, k)}\ndrive {drive:.3f} (dots: one step each)", fontsize=9)
    axes[0][0].plot([], [], color="tab:blue", label="h-nullcline")
    axes[0][0].plot([], [], color="tab:orange", label="h_s-nullcline")
    axes[0][0].plot([], [], color="k", label="trajectory from rest")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def voltage_traces(
    res: Excitability, path: Path, rows: Sequence[int] | None = None, steps: int = 600
) -> Path:
    """h after a step from rest to two drives: just above onset and 1.0 above it."""
    rows = pick_rows(res.hs0) if rows is None else rows
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 2.2 * len(rows)), squeeze=False)
    for ax, k in zip(axes[:, 0], rows):
        hs0 = None if not np.isfinite(res.hs0[k]) else float(res.hs0[k])
        base = _probe_drive(res, k) - 0.04
        for n, drive in enumerate((base, base + 1.0)):
            tr = trace(res.cell, hs0, drive, steps, res.rest_drive, *_cell_args(res))
            t = np.arange(1, steps + 1)
            ax.plot(t, tr["h"], color=f"C{n}", lw=0.8, label=f"drive {drive:.3f}")
        ax.axhline(0.5, color="0.7", lw=0.6, ls=":")
        ax.set_ylabel("h")
        ax.set_title(_label(res, k), fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel(f"steps after the step from rest at drive {res.rest_drive:g}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def burst_trace(res: Excitability, path: Path, k: int = 0, steps: int = 4000) -> Path:
    """BSRC: h, h_s and h_u at the bursting drive nearest zero (or zero drive)."""
    summary = res.burst_summary(k)
    drive = summary["drive"] if summary else 0.0
    hs0 = float(res.hs0[k])
    tr = trace(res.cell, hs0, drive, steps, res.rest_drive, *_cell_args(res))
    t = np.arange(1, steps + 1)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    a1.plot(t, tr["h"], lw=0.6, color="k", label="h")
    a1.plot(t, tr["hs"], lw=0.8, color="tab:orange", label="h_s")
    a1.set_ylabel("h, h_s")
    a1.legend(fontsize=8, loc="upper right")
    title = f"{res.cell}, h_s0 = {hs0:g}, bias = {res.bias:g}, drive {drive:g}"
    if summary:
        title += (
            f": {summary['spikes_per_burst']:.1f} spikes per burst, intra-burst ISI "
            f"{summary['intra_burst_isi']:.1f}, period {summary['burst_period']:.0f} steps"
        )
    a1.set_title(title, fontsize=9)
    a2.plot(t, tr["hu"], color="tab:purple")
    a2.set_ylabel("h_u (ultraslow)")
    a2.set_xlabel("steps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_figures(
    res: Excitability, out: Path, comparison: Excitability | None = None
) -> list[Path]:
    """Every figure for ``res`` into ``out``; ``comparison`` adds its heatmaps (synapse alpha)."""
    out = Path(out)
    paths = [
        fi_curves(res, out / "fi_curves.png"),
        phase_portraits(res, out / "phase_portraits.png"),
        voltage_traces(res, out / "voltage_traces.png"),
    ]
    if len(res.hs0) >= 2:
        paths.append(heatmaps(res, out / "heatmaps.png"))
        if comparison is not None:
            name = f"heatmaps_synapse_alpha{comparison.synapse_alpha:g}.png"
            paths.append(heatmaps(comparison, out / name))
    if study(res.cell).bursting:
        bursting = [k for k in range(len(res.hs0)) if res.classes[k] == "bursting"]
        paths.append(burst_trace(res, out / "burst_trace.png", bursting[0] if bursting else 0))
    return paths


# --------------------------------------------------------------------------------------------
# `modspike analyze`: parse the options, analyse, write DIR/excitability.json and the figures

MAX_GRID = 40_000  # neurons simulated at once (parameter sets x drives)
COMPARISON_ALPHA = 0.5  # the seed's figure 8 uses an exponential input synapse with alpha 0.5


def parse_range(text: str, option: str, min_n: int = 1) -> np.ndarray:
    """``A:B:N`` -> N evenly spaced values from A to B inclusive; ConfigError when malformed."""
    from modspike.errors import ConfigError

    parts = str(text).split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected A:B:N (two numbers and a count)") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ConfigError(f"{option} {text!r}: A and B must be finite")
    if n < min_n or (n > 1 and not a < b) or (n == 1 and a != b):
        need = f"N >= {min_n} and A < B" if min_n > 1 else "A < B with N >= 2, or A = B with N = 1"
        raise ConfigError(f"{option} {text!r}: need {need}")
    return np.linspace(a, b, n)


def parse_list(text: str, option: str) -> np.ndarray:
    """``v1,v2,...`` -> sorted unique finite floats; ConfigError when malformed."""
    from modspike.errors import ConfigError

    try:
        values = np.array([float(v) for v in str(text).split(",") if v.strip()], dtype=float)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected numbers separated by commas") from None
    if values.size == 0 or not np.isfinite(values).all():
        raise ConfigError(f"{option} {text!r}: expected finite numbers separated by commas")
    return np.unique(values)


def parse_number(text: str | None, option: str, lo: float, hi: float, hi_open: bool = False):
    """A float in [lo, hi] (or [lo, hi) with ``hi_open``), or None when not given."""
    from modspike.errors import ConfigError

    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: not a number") from None
    if not (lo <= value <= hi) or (hi_open and value >= hi):
        bound = f"[{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ConfigError(f"{option} {text!r}: must lie in {bound}")
    return value


def _compact(res: Excitability) -> list[dict]:
    keys = (
        "h_s0",
        "class",
        "onset_drive",
        "offset_drive",
        "hysteresis_width",
        "onset_isi",
        "delay",
    )
    return [{k: e[k] for k in keys} for e in (res.entry(k) for k in range(len(res.hs0)))]


def write_report(
    out: str | Path,
    cell: str = "msrc",
    hs0: str | None = None,
    hs0_range: str | None = None,
    r: str | None = None,
    drive_range: str | None = None,
    synapse_alpha: str | None = None,
    bias: str | None = None,
    progress: bool = True,
) -> dict:
    """Validate the options, run the analysis and write ``out`` atomically; returns a summary.

    Bad input raises :class:`modspike.errors.ConfigError` before anything is written.
    """
    import time

    from modspike.errors import ConfigError
    from modspike.rundir import atomic_directory, write_json

    from .analysis import CELLS, DEFAULT_DRIVES, STUDIES, analyze

    if cell not in STUDIES:
        raise ConfigError(f"--cell {cell!r}: choose one of {', '.join(CELLS)}")
    if hs0 is not None and hs0_range is not None:
        raise ConfigError("give either --hs0 or --hs0-range, not both")
    if STUDIES[cell].hs0 is None and (hs0 is not None or hs0_range is not None):
        raise ConfigError("--hs0 / --hs0-range apply to msrc and bsrc; the SRC has no h_s0")
    hs0_values = (
        parse_list(hs0, "--hs0")
        if hs0 is not None
        else parse_range(hs0_range, "--hs0-range")
        if hs0_range is not None
        else None
    )
    drives = (
        parse_range(drive_range, "--drive-range", min_n=2)
        if drive_range is not None
        else np.linspace(*DEFAULT_DRIVES[cell])
    )
    r_value = parse_number(r, "--r", 1e-6, 1e3)
    alpha = parse_number(synapse_alpha, "--synapse-alpha", 0.0, 1.0, hi_open=True) or 0.0
    bias_value = parse_number(bias, "--bias", -1e3, 1e3)
    n_rows = 1 if hs0_values is None else len(hs0_values)
    if n_rows * len(drives) > MAX_GRID:
        raise ConfigError(
            f"the grid has {n_rows} x {len(drives)} = {n_rows * len(drives)} points; "
            f"at most {MAX_GRID}: use fewer h_s0 values or drives"
        )

    t0 = time.perf_counter()
    common = {"cell": cell, "hs0": hs0_values, "drives": drives, "r": r_value, "bias": bias_value}
    res = analyze(**common, synapse_alpha=alpha, progress=progress)
    comparison = None
    if n_rows >= 2 and alpha != COMPARISON_ALPHA:
        comparison = analyze(**common, synapse_alpha=COMPARISON_ALPHA, progress=progress)
    seconds = time.perf_counter() - t0
    data = res.to_json()
    data["seconds"] = seconds
    if comparison is not None:
        data[f"synapse_alpha_{COMPARISON_ALPHA:g}"] = _compact(comparison)
    with atomic_directory(out) as tmp:
        figures = write_figures(res, tmp, comparison)
        data["figures"] = [p.name for p in figures]
        write_json(tmp / "excitability.json", data)
    classes = {c: res.classes.count(c) for c in dict.fromkeys(res.classes)}
    return {"out": str(out), "cell": cell, "classes": classes, "seconds": round(seconds, 2)}
