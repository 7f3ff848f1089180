"""Tier (iv), platform mode: tier-(i) counts priced with a chip's published per-event figures.

A platform profile names, per figure, the count it prices (``count = "effective"``, ...); only
those counts are priced, and a count the profile names but the counts lack is an error, never a
silent zero. Figures of another scope than the profile's (a chip-level hop in a core-level
profile) price nothing. Static power enters only with a time base and only at the profile's
scope. Ratios between platforms: :func:`modspike.runtime.energy_result.energy_ratio` (refused
across scopes or with an unverified figure, flagged across process nodes).
"""

from __future__ import annotations

from collections.abc import Mapping

from modspike.errors import ConfigError, EnergyProfileError

from .energy import load_profile
from .energy_result import TierEnergy, static_energy_pj

# tier-(i) counts a platform may price; the ones present but not priced are listed in the notes
EVENT_COUNTS = (
    "effective",
    "effective_acs",
    "effective_macs",
    "synaptic_events",
    "input_events",
    "spikes",
    "neuron_updates",
    "neuron_active",
    "neuron_inactive",
    "readout_macs",
    "readout_sum_updates",
    "encoder_ops",
    "macs_dense",
    "macs_zero_skip",
)


def platform_energy(
    counts: Mapping[str, float],
    profile: str | dict,
    *,
    side: str,
    seconds: float | None = None,
) -> TierEnergy:
    """Platform-mode energy per inference (pJ) of one side (``snn`` or ``ann``).

    ``counts``: network totals per inference (e.g. ``effective``, ``neuron_active``, ``spikes``,
    ``macs_dense``). ``seconds``: the inference time; with it the profile's ``[static]`` power
    is added when its scope is the profile's."""
    if side not in ("snn", "ann"):
        raise ConfigError(f"side {side!r}; choose snn or ann")
    prof = profile if isinstance(profile, dict) else load_profile(profile)
    name = prof.get("name", str(profile))
    if prof.get("schema") is None or prof.get("tier") != "platform":
        raise EnergyProfileError(f"energy profile {name} is not a platform profile (schema 2)")
    scope = prof["scope"]
    parts, prices, notes, priced = {}, {}, [], set()
    evidence = prof["evidence"]
    for key, entry in prof["entries"].items():
        if "count" not in entry:
            continue
        if entry.get("phase", "inference") != "inference":  # e.g. on-chip learning updates
            notes.append(f"{key} prices {entry['phase']}, not inference")
            continue
        if entry.get("scope", scope) != scope:
            notes.append(f"{key} ({entry['scope']}-level) prices nothing at {scope} level")
            continue
        ckey = entry["count"]
        if ckey not in counts:
            raise ConfigError(f"profile {name} prices the count {ckey!r}, which the counts lack")
        n = float(counts[ckey])
        if n < 0:
            raise ConfigError(f"count {ckey} = {n!r} is negative")
        parts[key] = n * entry["value"]
        prices[key] = f"{entry['value']:g} {entry['unit']} per {entry['per']}"
        priced.add(ckey)
        if entry.get("evidence") == "unverified":
            evidence = "unverified"
    if not parts:
        raise EnergyProfileError(f"energy profile {name} prices no count at its {scope} scope")
    unpriced = [k for k in EVENT_COUNTS if k in counts and k not in priced and counts[k]]
    if unpriced:
        notes.append("not priced by this profile: " + ", ".join(unpriced))
    static = prof.get("static")
    if static is not None:
        if seconds is None:
            notes.append("static power left out: no time base given")
        elif static.get("scope", scope) != scope:
            notes.append(f"static power ({static['scope']}-level) left out at {scope} level")
        else:
            parts["static"] = static_energy_pj(static["power_w"], seconds)
            prices["static"] = f"{static['power_w']:g} W for {seconds:g} s"
    return TierEnergy(
        tier="platform",
        side=side,
        constant_set=name,
        total_pj=float(sum(parts.values())),
        parts_pj=parts,
        prices=prices,
        scope=scope,
        node_nm=float(prof["node_nm"]),
        status=prof["status"],
        evidence=evidence,
        label=f"{name} ({scope}, {prof['node_nm']:g} nm, {prof['status']})",
        notes=tuple(notes),
    )
