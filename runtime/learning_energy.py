"""Modeled energy of on-chip learning: synaptic updates priced from a cost profile.

Loihi's profile carries ``cost.synaptic_update = 120`` pJ, Davies et al. 2018 (IEEE Micro 38(1),
Table 2, p. 96: "energy per synaptic update (pairwise STDP)"; pre-silicon SDF/SPICE simulation).
The counts come from :mod:`modspike.plasticity.counters`. Trace updates have no published per-event
energy on Loihi; they are reported as counts and priced only when a profile gives
``cost.trace_update``.
"""

from __future__ import annotations

from modspike.errors import PlasticityError

from .energy import load_profile

LEARNING_KEYS = ("synaptic_update",)


def learning_energy(totals: dict[str, int], profile="loihi") -> dict:
    """Energy (pJ) of ``totals`` (``modspike.plasticity.counters.total_counts`` output)."""
    prof = load_profile(profile, LEARNING_KEYS)
    cost = prof["cost"]
    for key in ("synapse_updates", "trace_updates"):
        if key not in totals:
            raise PlasticityError(f"learning counts lack {key!r}")
    synapses = float(totals["synapse_updates"]) * cost["synaptic_update"]
    traces = float(totals["trace_updates"]) * cost.get("trace_update", 0.0)
    return {
        "kind": "modeled",
        "unit": prof.get("unit", "pJ"),
        "profile": prof.get("name"),
        "components": {"synaptic_updates": synapses, "trace_updates": traces},
        "traces_priced": "trace_update" in cost,
        "total": synapses + traces,
        "citation": prof.get("citation", {}).get("synaptic_update"),
    }
