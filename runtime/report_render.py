"""The readable side of ``modspike report``: figures (matplotlib, Agg, base64 PNG), the tables,
``report.md`` and the self-contained ``report.html``. :mod:`modspike.runtime.report` measures.

Every energy figure draws one tier at a time: the deployed tier (the headline) with its low /
central / high band; the platform and Lemaire tiers are tables of their own."""

from __future__ import annotations

import base64
import html
import io

import numpy as np

BANDS = ("low", "central", "high")
VARIANT_LABEL = {
    "int8_dense": "int8 ANN, dense",
    "int8_zero_skip": "int8 ANN, zero-skip",
    "low_bit": "low-bit ANN",
}
COMPONENT_ORDER = (
    "arithmetic",
    "weight_memory",
    "state_memory",
    "neuron_updates",
    "readout",
    "encoding",
    "static",
)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _deployed(e: dict) -> dict | None:
    d = e["tiers"]["deployed"]
    return None if "unavailable" in d else d


def _components(parts: dict) -> list[str]:
    known = [c for c in COMPONENT_ORDER if c in parts]
    return known + sorted(c for c in parts if c not in COMPONENT_ORDER)


def _raster_figure(plt, e: dict, a: dict) -> str:
    rows = [("input", a["raster_inputs"])] + list(
        zip([s.split(" ")[0] for s in e["layers"]], a["raster_layers"])
    )
    fig, axes = plt.subplots(len(rows), 1, figsize=(7, 1.6 * len(rows) + 0.5), sharex=True)
    for ax, (name, r) in zip(np.atleast_1d(axes), rows):
        r = np.asarray(r).reshape(r.shape[0], -1)
        t, k = np.nonzero(r)
        size = 2 + 6 * np.abs(r[t, k]) / max(float(np.abs(r).max()), 1e-12)
        ax.scatter(t, k, s=size, marker="|", color="k")
        ax.set_ylabel(name)
        ax.set_ylim(-1, r.shape[1])
    np.atleast_1d(axes)[-1].set_xlabel("time step")
    fig.suptitle(f"{e['name']}: spike raster of test sample 0 (marker size = graded value)")
    return _png(fig)


def _activity_figure(plt, entries, arrays) -> str:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    for ent, arr in zip(entries, arrays):
        ax1.plot(ent["per_step_mean"]["synops"], label=f"{ent['name']} synops")
        ax1.plot(ent["per_step_mean"]["spikes"], "--", label=f"{ent['name']} spikes")
        for name, per in zip(ent["counts"]["layers"], arr["per_neuron_spikes"]):
            ax2.hist(per, bins=20, alpha=0.5, label=f"{ent['name']} {name}")
    ax1.set_xlabel("time step")
    ax1.set_ylabel("per sample (mean)")
    ax1.set_title("activity per time step")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("non-zero outputs per neuron per sample")
    ax2.set_ylabel("neurons")
    ax2.set_title("per-layer activity")
    ax2.legend(fontsize=7)
    return _png(fig)


def _breakdown_figure(plt, entries) -> str:
    """Stacked deployed-tier components (central) of every side, low-high band as error bars."""
    bars = []  # (label, components, (low, central, high), dominant text)
    for e in entries:
        d = _deployed(e)
        if d is None:
            continue
        snn = d["snn"]
        bars.append(
            (
                f"{e['name']} SNN",
                snn["results"]["central"]["components_pj"],
                [snn["energy_pj"][b] for b in BANDS],
                snn["dominant"]["part"],
            )
        )
        for v, band in d["ann"].items():
            bars.append(
                (
                    f"{e['name']} {VARIANT_LABEL.get(v, v)}",
                    band["results"]["central"]["components_pj"],
                    [band["energy_pj"][b] for b in BANDS],
                    band["dominant"]["part"],
                )
            )
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.45 * max(len(bars), 1)))
    if not bars:
        ax.text(0.5, 0.5, "deployed tier unavailable", ha="center")
        return _png(fig)
    names = []
    for _, comps, _, _ in bars:
        names += [c for c in _components(comps) if c not in names]
    colors = dict(zip(names, plt.get_cmap("tab10").colors))
    for i, (_label, comps, band, dominant) in enumerate(bars):
        left = 0.0
        for c in names:
            v = comps.get(c, 0.0) / 1e3
            if v > 0:
                ax.barh(i, v, left=left, color=colors[c], label=c if i == 0 else None)
                left += v
        lo, mid, hi = (x / 1e3 for x in band)
        ax.errorbar(mid, i, xerr=[[mid - lo], [hi - mid]], color="k", capsize=3, lw=1)
        ax.text(hi, i, f"  {mid:.3g} nJ ({lo:.3g}-{hi:.3g}); dominant: {dominant}", va="center",
                fontsize=7)  # fmt: skip
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[c]) for c in names]
    ax.legend(handles, names, fontsize=7, loc="lower right")
    ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "modeled energy per inference, deployed tier (nJ; bars: central, whiskers: low-high)"
    )
    ax.set_title("energy breakdown, one technology for both sides (modeled)")
    return _png(fig)


def _energy_vs_input_figure(plt, entries) -> str:
    """Deployed SNN energy against input events per inference, the ANNs as horizontal bands,
    the measured input events and the break-even marked."""
    shown = [e for e in entries if _deployed(e) and _deployed(e).get("break_even")][:4]
    fig, axes = plt.subplots(1, max(len(shown), 1), figsize=(6.5 * max(len(shown), 1), 4.2))
    axes = np.atleast_1d(axes)
    if not shown:
        axes[0].text(0.5, 0.5, "no ANN baseline: no break-even", ha="center")
        return _png(fig)
    colors = {"int8_dense": "tab:red", "int8_zero_skip": "tab:orange", "low_bit": "tab:purple"}
    for ax, e in zip(axes, shown):
        d = _deployed(e)
        be = d["break_even"]
        x0 = be["measured_input_events"]
        stars = [v for row in be["break_even_input_events"].values() for v in row.values() if v]
        xmax = max([2.0 * x0, 10.0] + [1.3 * s for s in stars])
        xs = np.linspace(0, xmax, 200)
        lines = {
            b: (be["energy_at_measured_pj"][b] + be["e_in_pj_per_input_event"][b] * (xs - x0)) / 1e3
            for b in BANDS
        }
        ax.fill_between(xs, lines["low"], lines["high"], color="tab:blue", alpha=0.2)
        ax.plot(xs, lines["central"], color="tab:blue", label="SNN (central; band low-high)")
        for v, band in d["ann"].items():
            e_ann = [band["energy_pj"][b] / 1e3 for b in BANDS]
            c = colors.get(v, "gray")
            ax.axhspan(e_ann[0], e_ann[2], color=c, alpha=0.12)
            ax.axhline(e_ann[1], color=c, lw=1.2, label=VARIANT_LABEL.get(v, v))
            star = be["break_even_input_events"][v]["central"]
            if star is not None:
                ax.axvline(star, color=c, ls=":", lw=1)
                ax.annotate(f"X0* = {star:.1f}", (star, e_ann[1]), fontsize=7, color=c,
                            xytext=(3, 4), textcoords="offset points")  # fmt: skip
        ax.axvline(x0, color="k", ls="--", lw=1, label=f"measured X0 = {x0:.1f}")
        missing = [VARIANT_LABEL.get(v, v) for v, r in be["break_even_input_events"].items()
                   if r["central"] is None]  # fmt: skip
        if missing:
            e0 = be["e0_pj"]["central"] / 1e3
            ax.text(0.02, 0.02, f"no break-even (central) vs {', '.join(missing)}:\nE_0 ="
                    f" {e0:.3g} nJ before any input event", transform=ax.transAxes, fontsize=7)  # fmt: skip
        tmax = ", ".join(f"{VARIANT_LABEL.get(v, v)} {t}" for v, t in be["t_max"].items())
        ax.set_title(f"{e['name']} (T = {e['steps']}, {e['encoding']}); T_max: {tmax}", fontsize=8)
        ax.set_xlabel("input events per inference (X0)")
        ax.set_ylabel("modeled energy per inference, deployed tier (nJ, log)")
        ax.set_yscale("log")
        ax.set_xlim(0, xmax)
        ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def _accuracy_figure(plt, entries) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for ent in entries:
        snn = ent["snn"]
        if snn.get("energy_pj_per_sample") is None:
            continue
        band = snn["energy_pj_band"]
        mid = band["central"] / 1e3
        err = [[mid - band["low"] / 1e3], [band["high"] / 1e3 - mid]]
        ax.errorbar(mid, ent["accuracy"], xerr=err, fmt="o", capsize=3, label=ent["name"])
        ann = ent["ann"]
        if ann and "energy_pj_band" in ann:
            b = ann["energy_pj_band"]["int8_dense"]
            mid = b["central"] / 1e3
            err = [[mid - b["low"] / 1e3], [b["high"] / 1e3 - mid]]
            ax.errorbar(mid, ann["accuracy_int8"], xerr=err, fmt="x", capsize=3,
                        label=f"{ent['name']} int8 ANN")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("modeled energy per inference, deployed tier (nJ, log; whiskers: low-high)")
    ax.set_ylabel("test accuracy")
    ax.set_title("accuracy vs energy")
    ax.legend(fontsize=7)
    return _png(fig)


def figures(entries: list[dict], arrays: list[dict]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {
        "raster": _raster_figure(plt, entries[0], arrays[0]),
        "activity": _activity_figure(plt, entries, arrays),
        "energy": _breakdown_figure(plt, entries),
        "energy_vs_input": _energy_vs_input_figure(plt, entries),
    }
    if len(entries) > 1:
        figs["accuracy_vs_energy"] = _accuracy_figure(plt, entries)
    return figs


# --------------------------------------------------------------------------------- writing


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _nj(v) -> str:
    return "-" if v is None else f"{v / 1e3:.4g}"


def _band_nj(band: dict | None) -> str:
    if not band:
        return "-"
    return f"{_nj(band['central'])} ({_nj(band['low'])}-{_nj(band['high'])})"


def _ratio_band(rows: dict | None) -> str:
    if not rows or rows.get("central") is None:
        return "-"
    return f"{rows['central']:.3g}x ({rows['low']:.3g}-{rows['high']:.3g}x)"


def _summary_table(entries):
    rows = []
    for e in entries:
        ann = e["ann"] or {}
        band = ann.get("energy_pj_band", {})
        dom = e["snn"].get("dominant") or {}
        rows.append(
            [
                e["name"],
                e["cell"] or "-",
                str(e["steps"]),
                e["encoding"],
                _fmt(e["accuracy"]),
                _fmt(ann.get("accuracy")),
                _fmt(ann.get("accuracy_int8")),
                _fmt(e["input_spikes_per_sample"]),
                _band_nj(e["snn"].get("energy_pj_band")),
                _band_nj(band.get("int8_dense")),
                _band_nj(band.get("int8_zero_skip")),
                _ratio_band(e["ratios_deployed"].get("int8_dense")),
                _ratio_band(e["ratios_deployed"].get("int8_zero_skip")),
                f"{dom.get('part')} ({100 * dom.get('share', 0):.0f} %)" if dom else "-",
            ]
        )
    header = [
        "artifact",
        "cell",
        "T",
        "encoding",
        "SNN acc.",
        "ANN acc. fp32",
        "ANN acc. int8",
        "input events",
        "SNN nJ",
        "int8 ANN nJ (dense)",
        "int8 ANN nJ (zero-skip)",
        "SNN / ANN dense",
        "SNN / ANN zero-skip",
        "SNN dominant term",
    ]
    return (
        "Deployed tier, the headline (per inference, modeled; central (low-high))",
        header,
        rows,
    )


def _breakdown_table(e):
    d = _deployed(e)
    cols = [("SNN", d["snn"])] + [(VARIANT_LABEL.get(v, v), b) for v, b in d["ann"].items()]
    names = []
    for _, b in cols:
        names += [
            c for c in _components(b["results"]["central"]["components_pj"]) if c not in names
        ]
    rows = []
    for c in names:
        rows.append(
            [c] + [_nj(b["results"]["central"]["components_pj"].get(c, 0.0)) for _, b in cols]
        )
    rows.append(["total"] + [_nj(b["energy_pj"]["central"]) for _, b in cols])
    rows.append(
        ["dominant"]
        + [
            f"{b['dominant']['part']} ({100 * b['dominant']['share']:.0f} %): {b['dominant']['price']}"
            for _, b in cols
        ]
    )
    return (
        f"{e['name']}: deployed components, central band (nJ per inference)",
        ["component"] + [n for n, _ in cols],
        rows,
    )


def _break_even_table(e):
    d = _deployed(e)
    be = d["break_even"]
    rows = []
    for v, row in be["break_even_input_events"].items():
        rows.append(
            [
                VARIANT_LABEL.get(v, v),
                *[_fmt(row[b]) if row[b] is not None else "none" for b in BANDS],
                _fmt(be["measured_input_events"]),
                str(be["t_max"][v]),
            ]
        )
    title = (
        f"{e['name']}: break-even (input events per inference; E_0 at T = {e['steps']}:"
        f" {_nj(be['e0_pj']['central'])} nJ central; e_in = "
        f"{be['e_in_pj_per_input_event']['central']:.4g} pJ per input event)"
    )
    header = ["vs", "X0* low", "X0* central", "X0* high", "measured X0", "T_max (central)"]
    return (title, header, rows)


def _counts_table(e):
    keys = (
        ("spikes", "spikes"),
        ("effective", "synops (NeuroBench)"),
        ("effective_acs", "ACs"),
        ("effective_macs", "MACs"),
        ("dense", "dense"),
        ("neuron_active", "neuron active"),
        ("neuron_inactive", "neuron inactive"),
        ("activation_sparsity", "act. sparsity"),
        ("connection_sparsity", "conn. sparsity"),
        ("input_events", "input events"),
        ("synaptic_events", "synaptic events (dense storage)"),
        ("graded_synaptic_events", "graded events"),
        ("neuron_updates", "neuron updates"),
        ("state_read_bits", "state bits read"),
        ("state_write_bits", "state bits written"),
        ("footprint_bits", "memory bits"),
    )
    rows = []
    for name, c in e["counts"]["layers"].items():
        rows.append([name] + [_fmt(c.get(k)) for k, _ in keys])
    return (
        f"{e['name']}: counts per layer, per sample ({e['n_samples']} samples, T = {e['steps']})",
        ["layer"] + [h for _, h in keys],
        rows,
    )


def _lemaire_table(entries):
    rows = []
    for e in entries:
        lem = e["tiers"]["lemaire"]
        if "unavailable" in lem:
            rows.append([e["name"], "-", "-", "-", lem["unavailable"]])
            continue
        ratio = lem.get("ratio", {}).get("ratio") if "ratio" in lem else None
        rows.append(
            [
                e["name"],
                _nj(lem["snn"]["energy_pj"]),
                _nj(lem["ann"]["energy_pj"]) if "ann" in lem else "-",
                f"{ratio:.3g}x" if ratio is not None else "-",
                lem["snn"]["label"],
            ]
        )
    return (
        "Lemaire tier (SpikingJelly 2.0.0's estimate_lemaire_energy; nJ per inference)",
        ["artifact", "SNN nJ", "ANN nJ", "SNN / ANN", "label"],
        rows,
    )


def _platform_table(entries):
    rows = []
    for e in entries:
        plat = e["tiers"]["platform"]
        if "unavailable" in plat:
            continue
        for side in ("snn", "ann"):
            for r in plat[side]:
                rows.append(
                    [
                        e["name"],
                        side.upper(),
                        r["constant_set"],
                        r["scope"],
                        f"{r['node_nm']:g}",
                        r["status"],
                        _nj(r["energy_pj"]),
                        "; ".join(r["notes"]) or "-",
                    ]
                )
        for r in plat["ratios"]:
            a, b = r["constant_sets"]
            what = f"{r['ratio']:.3g}x" if r["ratio"] is not None else f"refused: {r['refused']}"
            flags = "; ".join(r.get("flags", []))
            rows.append([e["name"], "ratio", f"{a} / {b}", "", "", "", what, flags or "-"])
    return (
        "Platform tier (published per-event figures; nJ per inference)",
        ["artifact", "side", "profile", "scope", "node nm", "status", "nJ", "notes"],
        rows,
    )


def _constants_table(report):
    rows = []
    for prof, block in report["constants"].items():
        for key, c in block["constants"].items():
            unit = str(c.get("unit", ""))
            if "mults" in c:  # a cell's operations per neuron update
                value = (
                    f"{c['mults']} mult x {c['mult_bits']} bit, {c['adds']} adds,"
                    f" {c['table_reads']} table reads"
                )
            elif "m" in c:  # a band
                value = f"m = {_fmt(c['m'])}, floor {_fmt(c['floor_bytes'])} B" + (
                    ", registers" if c.get("registers") else ""
                )
            elif "power_w" in c:
                value, unit = _fmt(c["power_w"]), "W"
            else:
                value = _fmt(c.get("value"))
            rows.append(
                [
                    prof,
                    key,
                    value,
                    unit,
                    str(c.get("source", "")),
                    str(c.get("evidence", block.get("evidence", ""))),
                ]
            )
    return (
        "Constants (every number priced here, with its source)",
        ["profile", "key", "value", "unit", "source", "evidence"],
        rows,
    )


def _tables(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table in report.md / report.html."""
    entries = report["artifacts"]
    tables = [_summary_table(entries)]
    for e in entries:
        if _deployed(e) is not None:
            tables.append(_breakdown_table(e))
            if _deployed(e).get("break_even"):
                tables.append(_break_even_table(e))
        tables.append(_counts_table(e))
    tables += [_lemaire_table(entries), _platform_table(entries), _constants_table(report)]
    return tables


def _headlines(report: dict) -> list[str]:
    out = []
    for e in report["artifacts"]:
        d = _deployed(e)
        if d is None:
            out.append(
                f"{e['name']}: the deployed tier is unavailable ({e['tiers']['deployed']['unavailable']})"
            )
            continue
        snn = d["snn"]
        line = (
            f"{e['name']}: SNN {_band_nj(snn['energy_pj'])} nJ per inference on"
            f" {d['technology']}, dominated by {snn['dominant']['part']}"
            f" ({100 * snn['dominant']['share']:.0f} %, {snn['dominant']['price']})"
        )
        if "int8_dense" in d["ann"]:
            line += (
                f"; int8 ANN dense {_band_nj(d['ann']['int8_dense']['energy_pj'])} nJ:"
                f" SNN / ANN {_ratio_band(e['ratios_deployed']['int8_dense'])}"
            )
        out.append(line)
        for note in d.get("notes", []):
            out.append(f"{e['name']}: {note}")
    return out


def markdown(report: dict) -> str:
    lines = ["# modspike report", "", f"Everything below is **{report['kind']}**.", ""]
    lines += [report["tier_rule"], ""]
    lines += [f"- {h}" for h in _headlines(report)] + [""]
    for title, header, rows in _tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        lines += ["|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    for e in report["artifacts"]:
        lines.append(
            f"- {e['name']}: SNN latency {_fmt(e['snn']['latency_ms_per_sample'])} ms/sample"
            f" ({e['snn']['latency_note']}); "
            + (
                f"ANN latency {_fmt(e['ann']['latency_ms_batch1'])} ms (fp32, batch 1,"
                " onnxruntime CPU)"
                if e["ann"]
                else "no baseline.onnx: no ANN comparison"
            )
        )
    lines += ["", "## Caveats", ""] + [f"- {c}" for c in report["caveats"]] + [""]
    return "\n".join(lines)


def html_page(report: dict, figs: dict[str, str]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>modspike report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
        "padding:2px 6px;text-align:right}th{background:#eee}</style></head><body>",
        "<h1>modspike report</h1>",
        f"<p>Everything below is <b>{esc(report['kind'])}</b>, not measured.</p>",
        f"<p>{esc(report['tier_rule'])}</p><ul>",
    ]
    parts += [f"<li>{esc(h)}</li>" for h in _headlines(report)]
    parts.append("</ul>")
    captions = {
        "energy_vs_input": "Energy vs input events per inference (deployed tier), break-even marked",
        "energy": "Energy breakdown, SNN vs ANN, one technology (deployed tier)",
        "accuracy_vs_energy": "Accuracy vs energy across artifacts (deployed tier)",
        "raster": "Spike raster of one sample",
        "activity": "Per-layer activity",
    }
    tables = _tables(report)

    def table(title, header, rows):
        parts.append(f"<h2>{esc(title)}</h2><table><tr>")
        parts.extend(f"<th>{esc(h)}</th>" for h in header)
        parts.append("</tr>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
        parts.append("</table>")

    table(*tables[0])  # the headline first, then its figures, then the details
    for key in (k for k in captions if k in figs):
        parts.append(f"<h2>{esc(captions[key])}</h2>")
        parts.append(f"<img alt='{esc(key)}' src='data:image/png;base64,{figs[key]}'>")
    for t in tables[1:]:
        table(*t)
    parts.append("<h2>Caveats</h2><ul>")
    parts += [f"<li>{esc(c)}</li>" for c in report["caveats"]]
    parts.append("</ul></body></html>")
    return "\n".join(parts)
