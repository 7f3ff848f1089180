"""The readable side of ``modspike report``: figures (matplotlib, Agg, base64 PNG), the tables,
``report.md`` and the self-contained ``report.html``. :mod:`modspike.runtime.report` measures."""

from __future__ import annotations

import base64
import html
import io

import numpy as np


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figures(entries: list[dict], arrays: list[dict]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {}
    e, a = entries[0], arrays[0]
    rows = [("input", a["raster_inputs"])] + list(
        zip([s.split(" ")[0] for s in e["layers"]], a["raster_layers"])
    )
    fig, axes = plt.subplots(len(rows), 1, figsize=(7, 1.6 * len(rows) + 0.5), sharex=True)
    for ax, (name, r) in zip(np.atleast_1d(axes), rows):
        t, k = np.nonzero(r)
        size = 2 + 6 * np.abs(r[t, k]) / max(float(np.abs(r).max()), 1e-12)
        ax.scatter(t, k, s=size, marker="|", color="k")
        ax.set_ylabel(name)
        ax.set_ylim(-1, r.shape[1])
    np.atleast_1d(axes)[-1].set_xlabel("time step")
    fig.suptitle(f"{e['name']}: spike raster of test sample 0 (marker size = graded value)")
    figs["raster"] = _png(fig)

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
    figs["activity"] = _png(fig)

    bars = []  # (label, pJ, colour index): each SNN part, the SNN total, the ANN total
    for ent in entries:
        parts = ent["snn"]["components_pj_per_sample"]
        bars += [  # a zero part has no place on a log axis (the tables list it)
            (f"{ent['name']} SNN {k}", v, k_) for k_, (k, v) in enumerate(parts.items()) if v > 0
        ]
        bars.append(
            (
                f"{ent['name']} SNN total ({ent['snn']['profile']})",
                ent["snn"]["energy_pj_per_sample"],
                7,
            )
        )
        if ent["ann"]:
            label = f"{ent['name']} ANN total ({ent['ann']['precision']} MACs)"
            bars.append((label, ent["ann"]["energy_pj_per_sample"], 6))
    colors = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.28 * len(bars)))
    ax.barh(
        range(len(bars)),
        [v for _, v, _ in bars],
        color=[colors[c] for _, _, c in bars],
    )
    ax.set_yticks(range(len(bars)), [label for label, _, _ in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("modeled energy per inference (pJ, log scale)")
    ax.set_title("energy breakdown, SNN vs ANN (modeled)")
    figs["energy"] = _png(fig)

    if len(entries) > 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        for ent in entries:
            ax.scatter(ent["snn"]["energy_pj_per_sample"], ent["accuracy"], label=ent["name"])
            if ent["ann"]:
                ax.scatter(
                    ent["ann"]["energy_pj_per_sample"],
                    ent["ann"]["accuracy_int8"],
                    marker="x",
                    label=f"{ent['name']} ANN int8",
                )
        ax.set_xscale("log")
        ax.set_xlabel("modeled energy per inference (pJ, log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_title("accuracy vs energy")
        ax.legend(fontsize=7)
        figs["accuracy_vs_energy"] = _png(fig)
    return figs


# --------------------------------------------------------------------------------- writing


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _tables(entries: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table in report.md / report.html."""
    main_rows = []
    for e in entries:
        ann = e["ann"] or {}
        main_rows.append(
            [
                e["name"],
                e["cell"] or "-",
                e["backend"],
                _fmt(e["accuracy"]),
                _fmt(ann.get("accuracy")),
                _fmt(ann.get("accuracy_int8")),
                _fmt(e["counts"]["per_sample"]["spikes"]),
                _fmt(e["counts"]["per_sample"]["effective"]),
                _fmt(e["snn"]["energy_pj_per_sample"] / 1e3),
                _fmt(ann.get("energy_pj_per_sample", 0) / 1e3 if ann else None),
                _fmt(e["ratio_snn_over_ann"], 3),
            ]
        )
    tables = [
        (
            "Summary (per inference, modeled)",
            [
                "artifact",
                "cell",
                "backend",
                "SNN acc.",
                "ANN acc. fp32",
                "ANN acc. int8",
                "spikes",
                "synops",
                "SNN nJ",
                "ANN nJ",
                "SNN / ANN",
            ],
            main_rows,
        )
    ]
    for e in entries:
        rows = []
        for name, c in e["counts"]["layers"].items():
            rows.append(
                [
                    name,
                    _fmt(c["spikes"]),
                    _fmt(c["effective"]),
                    _fmt(c["effective_acs"]),
                    _fmt(c["effective_macs"]),
                    _fmt(c["graded_weighted"]),
                    _fmt(c["dense"]),
                    _fmt(c["neuron_active"]),
                    _fmt(c["neuron_inactive"]),
                    _fmt(c["activation_sparsity"], 3),
                    _fmt(c["connection_sparsity"], 3),
                    _fmt(e["snn"]["layers_pj_per_sample"][name] / 1e3),
                ]
            )
        tables.append(
            (
                f"{e['name']}: per layer, per sample ({e['n_samples']} samples, T = {e['steps']})",
                [
                    "layer",
                    "spikes",
                    "synops (effective)",
                    "ACs",
                    "MACs",
                    "graded-weighted",
                    "dense",
                    "neuron active",
                    "neuron inactive",
                    "act. sparsity",
                    "conn. sparsity",
                    "nJ",
                ],
                rows,
            )
        )
        parts = e["snn"]["components_pj_per_sample"]
        rows = [[k, _fmt(v / 1e3)] for k, v in parts.items()]
        if e["ann"]:
            ann = e["ann"]
            rows.append(
                [
                    f"ANN: {ann['macs_per_sample']} {ann['precision']} MACs ({ann['profile']})",
                    _fmt(ann["energy_pj_per_sample"] / 1e3),
                ]
            )
        tables.append((f"{e['name']}: energy breakdown (nJ per inference)", ["part", "nJ"], rows))
    return tables


def markdown(report: dict) -> str:
    lines = ["# modspike report", "", f"Everything below is **{report['kind']}**.", ""]
    for title, header, rows in _tables(report["artifacts"]):
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
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
        "padding:2px 6px;text-align:right}th{background:#eee}</style></head><body>",
        "<h1>modspike report</h1>",
        f"<p>Everything below is <b>{esc(report['kind'])}</b>, not measured.</p>",
    ]
    for title, header, rows in _tables(report["artifacts"]):
        parts.append(f"<h2>{esc(title)}</h2><table><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in header]
        parts.append("</tr>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
        parts.append("</table>")
    captions = {
        "raster": "Spike raster of one sample",
        "activity": "Per-layer activity",
        "energy": "Energy breakdown, SNN vs ANN",
        "accuracy_vs_energy": "Accuracy vs energy across artifacts",
    }
    for key, data in figs.items():
        parts.append(f"<h2>{esc(captions[key])}</h2>")
        parts.append(f"<img alt='{esc(key)}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>Caveats</h2><ul>")
    parts += [f"<li>{esc(c)}</li>" for c in report["caveats"]]
    parts.append("</ul></body></html>")
    return "\n".join(parts)
