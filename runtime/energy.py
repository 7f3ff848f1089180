"""Modeled energy = sum(count * cost) on a cost profile (TOML data files in ``profiles/``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomli

from modspike.errors import EnergyProfileError

PROFILE_DIR = Path(__file__).parent / "profiles"
SNN_KEYS = ("synop", "neuron_active", "neuron_inactive")


def load_profile(name_or_path, required=()) -> dict:
    """Load a built-in profile by name or a user TOML path; check ``required`` cost keys."""
    p = Path(name_or_path)
    if not p.suffix:
        p = PROFILE_DIR / f"{name_or_path}.toml"
    if not p.is_file():
        raise EnergyProfileError(f"energy profile not found: {p}")
    try:
        data = tomli.loads(p.read_text())
    except tomli.TOMLDecodeError as e:
        raise EnergyProfileError(f"energy profile {p} is not valid TOML: {e}") from e
    cost = data.get("cost")
    if not isinstance(cost, dict):
        raise EnergyProfileError(f"energy profile {p} has no [cost] table")
    for k in required:
        if k not in cost:
            raise EnergyProfileError(f"energy profile {p} lacks required key cost.{k}")
    for k, v in cost.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise EnergyProfileError(f"energy profile {p}: cost.{k} = {v!r} is not a number")
    return data


def snn_energy(counts: list[dict], profile="loihi") -> dict:
    """Energy (pJ) per layer and total from ``count_layers`` output (summed over time), and the
    total split into its ``components`` (synops, neuron updates active / inactive, spikes)."""
    prof = load_profile(profile, SNN_KEYS)
    c = prof["cost"]
    prices = {
        "synops": ("effective", c["synop"]),
        "neuron_active": ("neuron_active", c["neuron_active"]),
        "neuron_inactive": ("neuron_inactive", c["neuron_inactive"]),
        "spikes": ("spikes", c.get("spike", 0.0)),
    }
    layers = []
    components = dict.fromkeys(prices, 0.0)
    for d in counts:
        e = 0.0
        for name, (key, cost) in prices.items():
            part = float(np.sum(d[key]) * cost)
            components[name] += part
            e += part
        layers.append(e)
    return {
        "kind": "modeled",
        "unit": prof.get("unit", "pJ"),
        "profile": prof.get("name"),
        "layers": layers,
        "components": components,
        "total": float(sum(layers)),
    }
