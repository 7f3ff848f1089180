"""One SNN and its ANN baseline priced in the four tiers, as the report's JSON blocks.

Each tier is its own block (``counts``, ``lemaire``, ``deployed``, ``platform``) and a ratio only
ever divides two results of one tier and one constant set
(:func:`runtime.energy_result.energy_ratio`); across platform scopes the ratio is recorded as
refused, with the reason. The deployed tier is the headline: a low / central / high band for the
SNN and for three ANN variants (int8 dense, int8 zero-skipping, and activations at
``ceil(log2(T + 1))`` bits), the dominating term, the energy against input events per inference
with the break-even point, and the largest T that can break even.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from modspike.errors import ConfigError, EnergyRatioError

from .energy import load_profile
from .energy_counts import ann_counts_block, counts_block
from .energy_deployed import band_of, band_summary, deployed_ann, deployed_snn
from .energy_facts import (
    GRADED_SYNAPTIC_EVENTS,
    INPUT_EVENTS,
    NEURON_UPDATES,
    SPIKES,
    SYNAPTIC_EVENTS,
    AnnLayerFacts,
    LayerFacts,
    ReadoutFacts,
    low_bit_activation_bits,
)
from .energy_lemaire import lemaire_ann, lemaire_snn
from .energy_platform import platform_energy
from .energy_result import (
    TierEnergy,
    ann_time_s,
    energy_delay_product,
    energy_ratio,
    flip_power_w,
    snn_time_s,
    with_static,
)
from .energy_tech import BAND_NAMES, technology

ANN_VARIANTS = ("int8_dense", "int8_zero_skip", "low_bit")
"""The ANN comparators of the deployed tier."""

PLATFORM_TOTALS = (
    "effective",
    "effective_acs",
    "effective_macs",
    "neuron_active",
    "neuron_inactive",
    "spikes",
    INPUT_EVENTS,
    SYNAPTIC_EVENTS,
    NEURON_UPDATES,
)


@dataclass(frozen=True)
class TimeBase:
    """Hardware time per SNN step (s), the ANN's MAC rate (MAC/s), static power (W) on both
    sides; None where not given (then no time, EDP or static part is reported)."""

    step_s: float | None = None
    macs_per_s: float | None = None
    static_w: float = 0.0

    @property
    def given(self) -> bool:
        return self.step_s is not None and self.macs_per_s is not None


def _ratio(num: TierEnergy, den: TierEnergy) -> dict:
    try:
        return energy_ratio(num, den)
    except EnergyRatioError as exc:
        return {
            "tier": num.tier,
            "constant_sets": [num.constant_set, den.constant_set],
            "ratio": None,
            "refused": str(exc),
        }


def _band_json(band: Mapping[str, TierEnergy]) -> dict:
    return {**band_summary(band), "results": {b: band[b].to_json() for b in BAND_NAMES}}


# ------------------------------------------------------------------------- break-even


def _shifted(counts: Sequence[Mapping[str, float]], layer0: LayerFacts, dx: float) -> list:
    """The counts with ``dx`` more input events into the first layer (each read by its whole
    fan-out; graded when the first layer's input is)."""
    out = [dict(c) for c in counts]
    c0 = out[0]
    graded = c0.get(GRADED_SYNAPTIC_EVENTS, 0.0) > 0
    c0[INPUT_EVENTS] = c0[INPUT_EVENTS] + dx
    c0[SYNAPTIC_EVENTS] = c0[SYNAPTIC_EVENTS] + dx * layer0.n
    if graded:
        c0[GRADED_SYNAPTIC_EVENTS] = c0[GRADED_SYNAPTIC_EVENTS] + dx * layer0.n
    return out


def _idle_counts(layers: Sequence[LayerFacts], steps: int) -> list[dict]:
    """No event anywhere: only the time-driven neuron updates (E_0 of the break-even)."""
    return [
        {INPUT_EVENTS: 0.0, SYNAPTIC_EVENTS: 0.0, NEURON_UPDATES: float(ly.n * steps), SPIKES: 0.0}
        for ly in layers
    ]


def break_even(
    layers: Sequence[LayerFacts],
    counts: Sequence[Mapping[str, float]],
    snn: Mapping[str, TierEnergy],
    anns: Mapping[str, Mapping[str, TierEnergy]],
    *,
    steps: int,
    encoding: str,
    readout: ReadoutFacts | None,
    tech,
    t_limit: int = 4096,
) -> dict:
    """Energy against input events per inference, the break-even and T_max.

    The deployed SNN energy is affine in the first layer's input events ``X_0`` with every other
    count held at its measured value: ``E(X_0) = E_measured + e_in (X_0 - X_0,measured)``, so
    ``X_0* = X_0,measured + (E_ANN - E_measured) / e_in`` (None when negative: even no input event
    would do). ``T_max`` is the largest T with ``E_0(T) <= E_ANN``, ``E_0`` the energy with no
    event at all (encoding, neuron updates, readout: what the SNN pays before any input)."""
    x0 = float(counts[0][INPUT_EVENTS])
    kw = dict(steps=steps, encoding=encoding, readout=readout, profile=tech)
    slope = {}
    for b in BAND_NAMES:
        plus = deployed_snn(layers, _shifted(counts, layers[0], 1.0), band=b, **kw).total_pj
        slope[b] = plus - snn[b].total_pj
    out: dict = {
        "model": "E_SNN(X_0) = E_measured + e_in * (X_0 - X_0 measured); the other counts fixed",
        "measured_input_events": x0,
        "energy_at_measured_pj": {b: snn[b].total_pj for b in BAND_NAMES},
        "e_in_pj_per_input_event": slope,
        "break_even_input_events": {},
        "t_max": {},
        "e0_pj": {},
    }
    if encoding == "direct":  # the first layer is dense: input events cost nothing
        out["note"] = "direct input: the first layer runs densely, input events do not move E"
    for name, ann in anns.items():
        row = {}
        for b in BAND_NAMES:
            e_ann = ann[b].total_pj
            if slope[b] <= 0:
                row[b] = None
                continue
            x = x0 + (e_ann - snn[b].total_pj) / slope[b]
            row[b] = x if x >= 0 else None
        out["break_even_input_events"][name] = row

    def e0(t: int, band: str = "central") -> float:
        idle = _idle_counts(layers, t)
        return deployed_snn(
            layers, idle, steps=t, encoding=encoding, readout=readout, band=band, profile=tech
        ).total_pj

    out["e0_pj"] = {"steps": steps, **{b: e0(steps, b) for b in BAND_NAMES}}
    for name, ann in anns.items():  # E_0 is non-decreasing in T: bisect
        e_ann = ann["central"].total_pj
        lo, hi = 0, t_limit + 1  # e0(lo) <= e_ann (lo = 0: none), e0(hi) > e_ann
        if e0(t_limit) <= e_ann:
            lo = hi = t_limit
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if e0(mid) <= e_ann else (lo, mid)
        out["t_max"][name] = lo
    out["t_max_band"] = "central"
    out["t_max_limit"] = t_limit
    return out


# ------------------------------------------------------------------------------ tiers


def price_tiers(
    layers: Sequence[LayerFacts],
    counts: Sequence[Mapping[str, float]],
    neurobench: Mapping[str, float],
    *,
    steps: int,
    encoding: str,
    readout: ReadoutFacts | None,
    ann_layers: Sequence[AnnLayerFacts] | None,
    ann_nonzero: Sequence[float] | None,
    ann_low_bit_nonzero: Sequence[float] | None = None,
    technology_profile: str = "horowitz45",
    lemaire_profile: str = "lemaire_sj200",
    snn_platforms: Sequence[str] = ("loihi",),
    ann_platforms: Sequence[str] = ("simba_16nm",),
    time: TimeBase | None = None,
    notes: Sequence[str] = (),
) -> dict:
    """The four tier blocks of one SNN (``layers`` + mean ``counts`` per layer, ``neurobench``:
    the NeuroBench-exact per-sample totals) and its ANN (``ann_layers`` at int8 and the mean
    non-zero inputs per layer of the int8 network; ``ann_low_bit_nonzero`` those of the low-bit
    network). Returns JSON-ready blocks and, under ``"_energies"``, the :class:`TierEnergy`
    objects (for figures; drop it before writing)."""
    tech = technology(technology_profile)
    time = time or TimeBase()
    kw = dict(steps=steps, encoding=encoding, readout=readout, profile=tech)
    snn = band_of(deployed_snn, layers, counts, **kw)
    anns: dict[str, dict[str, TierEnergy]] = {}
    low_bits = low_bit_activation_bits(steps)
    if ann_layers is not None:
        anns["int8_dense"] = band_of(deployed_ann, ann_layers, profile=tech)
        if ann_nonzero is not None:
            anns["int8_zero_skip"] = band_of(
                deployed_ann, ann_layers, nonzero_inputs=list(ann_nonzero), profile=tech
            )
        low = [replace(ly, act_bits=low_bits) for ly in ann_layers]
        anns["low_bit"] = band_of(deployed_ann, low, profile=tech)
    time_block = None
    if time.given:
        t_snn = snn_time_s(steps, time.step_s)
        times = {"snn": t_snn}
        if ann_layers is not None:
            times["ann"] = ann_time_s(sum(ly.dense_macs for ly in ann_layers), time.macs_per_s)
        if time.static_w > 0:
            src = "--static-power (an input of this report, not a sourced figure)"
            snn = {b: with_static(e, time.static_w, t_snn, src) for b, e in snn.items()}
            anns = {
                v: {b: with_static(e, time.static_w, times["ann"], src) for b, e in band.items()}
                for v, band in anns.items()
            }
        time_block = {
            "step_s": time.step_s,
            "macs_per_s": time.macs_per_s,
            "static_power_w": time.static_w,
            "seconds": times,
            "edp_pj_s": {"snn": energy_delay_product(snn["central"].total_pj, t_snn)},
        }
        if "ann" in times:
            for v, band in anns.items():
                time_block["edp_pj_s"][v] = energy_delay_product(
                    band["central"].total_pj, times["ann"]
                )
            dense = anns["int8_dense"]["central"].total_pj
            time_block["flip_power_w_vs_int8_dense"] = flip_power_w(
                snn["central"].total_pj, dense, t_snn, times["ann"]
            )
    elif time.static_w > 0:
        raise ConfigError("--static-power needs a time base: give --step-time and --mac-rate")

    deployed = {
        "kind": "modeled",
        "tier": "deployed",
        "technology": tech.name,
        "node_nm": tech.node_nm,
        "snn": _band_json(snn),
        "ann": {v: _band_json(band) for v, band in anns.items()},
        "low_bit_activation_bits": low_bits,
        "ratios": {v: {b: _ratio(snn[b], band[b]) for b in BAND_NAMES} for v, band in anns.items()},
        "break_even": break_even(
            layers, counts, snn, anns, steps=steps, encoding=encoding, readout=readout, tech=tech
        )
        if anns
        else None,
        "time": time_block,
        "notes": list(notes),
    }
    if ann_low_bit_nonzero is not None and ann_layers is not None:
        deployed["low_bit_nonzero_inputs"] = list(ann_low_bit_nonzero)

    lem_snn = lemaire_snn(layers, counts, steps=steps, readout=readout, profile=lemaire_profile)
    lemaire = {"kind": "modeled", "tier": "lemaire", "snn": lem_snn.to_json()}
    lem_ann = None
    if ann_layers is not None:
        lem_ann = lemaire_ann(ann_layers, profile=lemaire_profile)
        lemaire["ann"] = lem_ann.to_json()
        lemaire["ratio"] = _ratio(lem_snn, lem_ann)

    cblock = {
        "snn": counts_block(
            layers, counts, steps=steps, encoding=encoding, readout=readout, profile=tech
        ),  # fmt: skip
        "neurobench_per_sample": dict(neurobench),
    }
    if ann_layers is not None:
        cblock["ann"] = ann_counts_block(ann_layers, ann_nonzero)

    totals = {k: float(neurobench.get(k, 0.0)) for k in PLATFORM_TOTALS if k in neurobench}
    for key in (INPUT_EVENTS, SYNAPTIC_EVENTS, NEURON_UPDATES):
        totals[key] = float(sum(c[key] for c in counts))
    totals["spikes"] = float(sum(c[SPIKES] for c in counts))
    snb = cblock["snn"]
    totals["encoder_ops"] = snb["encoder_ops"]
    if readout is not None:
        totals["readout_macs"] = snb["readout_macs"]
        totals["readout_sum_updates"] = snb["readout_sum_updates"]
    seconds_snn = snn_time_s(steps, time.step_s) if time.step_s is not None else None
    ann_totals = None
    if ann_layers is not None:
        ann_totals = {
            "macs_dense": cblock["ann"]["total"]["macs_dense"],
            "macs_zero_skip": cblock["ann"]["total"].get("macs_zero_skip", 0.0),
        }
    platform = platform_block(totals, snn_platforms, ann_totals, ann_platforms, seconds_snn)
    return {
        "counts": cblock,
        "lemaire": lemaire,
        "deployed": deployed,
        "platform": platform,
        "_energies": {"snn": snn, "ann": anns, "lemaire": (lem_snn, lem_ann)},
    }


def platform_block(
    totals: Mapping[str, float],
    snn_platforms: Sequence[str],
    ann_totals: Mapping[str, float] | None,
    ann_platforms: Sequence[str],
    seconds_snn: float | None = None,
) -> dict:
    """Tier (iv): each profile's price of the counts it names, and every SNN-ANN pair as a
    ratio with its flags or as refused, with the reason."""
    plat_snn = [platform_energy(totals, p, side="snn", seconds=seconds_snn) for p in snn_platforms]
    plat_ann = []
    if ann_totals is not None:
        plat_ann = [platform_energy(ann_totals, p, side="ann") for p in ann_platforms]
    return {
        "kind": "modeled",
        "tier": "platform",
        "snn": [e.to_json() for e in plat_snn],
        "ann": [e.to_json() for e in plat_ann],
        "ratios": [_ratio(s, a) for s in plat_snn for a in plat_ann],
        "rule": "a ratio is refused across scopes and with an unverified figure, flagged across"
        " process nodes",
    }


# --------------------------------------------------------------------------- constants


def _entries(prof: dict) -> dict:
    out = {}
    for section in ("entries", "param"):
        for key, e in prof.get(section, {}).items():
            out[key if section == "entries" else f"param.{key}"] = {
                k: e[k] for k in ("value", "unit", "per", "source", "evidence", "count") if k in e
            }
    for key, e in prof.get("band", {}).items():
        out[f"band.{key}"] = dict(e)
    for key, e in prof.get("cell", {}).items():
        out[f"cell.{key}"] = dict(e)
    if "static" in prof:
        out["static"] = dict(prof["static"])
    return out


def constants_table(profiles: Sequence[str]) -> dict:
    """Every constant of the named profiles with its value, unit and source (report.json)."""
    out = {}
    for name in dict.fromkeys(profiles):
        prof = load_profile(name)
        out[prof.get("name", name)] = {
            "tier": prof.get("tier"),
            "scope": prof.get("scope"),
            "node_nm": prof.get("node_nm"),
            "status": prof.get("status"),
            "evidence": prof.get("evidence"),
            "source": prof.get("source"),
            "constants": _entries(prof),
        }
    return out


def strip_private(block: dict) -> dict:
    """The tier blocks without the in-memory energies."""
    return {k: copy.deepcopy(v) for k, v in block.items() if not k.startswith("_")}
