"""What a tier returns, the one way to divide two energies, and the time base.

Rule: a ratio uses two numbers of the **same tier** and, except in the platform tier, the **same
constant set** (profile and band); in the platform tier the two profiles must have the same
scope (a different process node is flagged), and an unverified figure enters no ratio. Anything
else raises :class:`modspike.errors.EnergyRatioError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from modspike.errors import ConfigError, EnergyRatioError

# Coarse components of the report's breakdown, from the fine parts the tiers return.
COMPONENTS = {
    "encoding": ("encoding", "direct_input_layer", "direct_input_adds"),
    "arithmetic": ("synaptic_adds", "graded_multiplies", "macs", "post", "zero_tests"),
    "weight_memory": ("weight_reads", "bias_reads"),
    "state_memory": ("routing", "synaptic_accumulator_rmw", "activations"),
    "neuron_updates": (
        "neuron_arithmetic",
        "neuron_tables",
        "neuron_state",
        "accumulator_read_clear",
    ),
    "readout": ("readout_time_sum", "readout"),
    "static": ("static",),
}


@dataclass(frozen=True)
class TierEnergy:
    """Energy of one side (``snn`` or ``ann``) in one tier, per inference (pJ).

    ``parts_pj`` splits ``total_pj``; ``prices`` says, per part, which unit energy prices it (for
    a part summed over layers: the one of its largest term)."""

    tier: str
    side: str
    constant_set: str
    total_pj: float
    parts_pj: dict[str, float]
    prices: dict[str, str] = field(default_factory=dict)
    scope: str = "core"
    node_nm: float = 0.0
    status: str = "estimated"
    evidence: str = "secondary"
    label: str = ""
    notes: tuple[str, ...] = ()

    def dominant(self) -> dict:
        """The largest part: name, share of the total and what prices it."""
        if not self.parts_pj or self.total_pj <= 0:
            return {"part": None, "share": 0.0, "price": ""}
        name = max(self.parts_pj, key=self.parts_pj.get)
        return {
            "part": name,
            "share": self.parts_pj[name] / self.total_pj,
            "price": self.prices.get(name, ""),
        }

    def components(self) -> dict[str, float]:
        """``parts_pj`` summed into the report's coarse components (unknown parts kept)."""
        out: dict[str, float] = {}
        known = {p: c for c, parts in COMPONENTS.items() for p in parts}
        for p, v in self.parts_pj.items():
            c = known.get(p, p)
            out[c] = out.get(c, 0.0) + v
        return out

    def to_json(self) -> dict:
        return {
            "kind": "modeled",
            "tier": self.tier,
            "side": self.side,
            "constant_set": self.constant_set,
            "label": self.label,
            "scope": self.scope,
            "node_nm": self.node_nm,
            "status": self.status,
            "evidence": self.evidence,
            "energy_pj": self.total_pj,
            "parts_pj": dict(self.parts_pj),
            "prices": dict(self.prices),
            "components_pj": self.components(),
            "dominant": self.dominant(),
            "notes": list(self.notes),
        }


def energy_ratio(num: TierEnergy, den: TierEnergy) -> dict:
    """``num / den`` when the two are like for like (see the module docstring), with ``flags``
    (e.g. different process nodes in the platform tier); else :class:`EnergyRatioError`."""
    if num.tier != den.tier:
        raise EnergyRatioError(
            f"no ratio across tiers: {num.tier} ({num.constant_set}) vs {den.tier}"
            f" ({den.constant_set})"
        )
    flags = []
    if num.tier == "platform":
        if num.scope != den.scope:
            raise EnergyRatioError(
                f"no ratio across scopes: {num.constant_set} is {num.scope}-level,"
                f" {den.constant_set} is {den.scope}-level"
            )
        for e in (num, den):
            if "unverified" in (e.status, e.evidence):
                raise EnergyRatioError(f"no ratio with an unverified figure: {e.constant_set}")
        if num.node_nm != den.node_nm:
            flags.append(f"different process nodes: {num.node_nm:g} nm vs {den.node_nm:g} nm")
    elif num.constant_set != den.constant_set:
        raise EnergyRatioError(
            f"no ratio across constant sets: {num.constant_set} vs {den.constant_set}"
        )
    if den.total_pj <= 0:
        raise EnergyRatioError(f"no ratio: {den.constant_set} ({den.side}) costs 0 pJ")
    return {
        "tier": num.tier,
        "constant_sets": [num.constant_set, den.constant_set],
        "ratio": num.total_pj / den.total_pj,
        "flags": flags,
    }


# ------------------------------------------------------------------------------ time base


def _non_negative(name: str, v: float) -> float:
    v = float(v)
    if not math.isfinite(v) or v < 0:
        raise ConfigError(f"{name} must be a non-negative number, got {v!r}")
    return v


def snn_time_s(steps: int, step_s: float) -> float:
    """t_SNN = T * dt_step: the inference time of a time-driven network (s)."""
    return _non_negative("steps", steps) * _non_negative("step time", step_s)


def ann_time_s(macs: float, macs_per_s: float) -> float:
    """t_ANN = N_MAC / R_MAC (s)."""
    rate = _non_negative("MAC rate", macs_per_s)
    if rate == 0:
        raise ConfigError("MAC rate must be positive")
    return _non_negative("MACs", macs) / rate


def static_energy_pj(power_w: float, seconds: float) -> float:
    """E_static = P_static * t (pJ)."""
    return _non_negative("static power", power_w) * _non_negative("time", seconds) * 1e12


def with_static(energy: TierEnergy, power_w: float, seconds: float, source: str) -> TierEnergy:
    """``energy`` plus a ``static`` part ``P * t``; ``source`` says where ``P`` comes from."""
    e = static_energy_pj(power_w, seconds)
    parts = {**energy.parts_pj, "static": e}
    prices = {**energy.prices, "static": f"P_static = {power_w:g} W over {seconds:g} s ({source})"}
    return replace(energy, total_pj=energy.total_pj + e, parts_pj=parts, prices=prices)


def energy_delay_product(energy_pj: float, seconds: float) -> float:
    """EDP = E * t (pJ s)."""
    return _non_negative("energy", energy_pj) * _non_negative("time", seconds)


def flip_power_w(e_snn_pj: float, e_ann_pj: float, t_snn_s: float, t_ann_s: float) -> float | None:
    """The static power ``P* = (E_ANN - E_SNN) / (t_SNN - t_ANN)`` at which adding ``P * t`` to
    both sides reverses their order; ``None`` when no positive power does (equal times, or an
    order that static power only widens)."""
    dt = t_snn_s - t_ann_s
    if dt == 0:
        return None
    p = (e_ann_pj - e_snn_pj) * 1e-12 / dt
    return p if p > 0 else None
