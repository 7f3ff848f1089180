"""Energy cost profiles (TOML data files in ``profiles/``) and the legacy platform pricing.

A profile of schema ``modspike-energy-profile/2`` names its tier (``platform``, ``deployed`` or
``lemaire``), its scope (``core``, ``chip``, ``board``, ``system``), its process node, its status
(``measured``, ``simulated``, ``estimated``, ``unverified``) and evidence (``primary``,
``secondary``, ``unverified``); every number is a table with its own value, unit and source.
:func:`load_profile` validates that and returns the profile with ``cost`` flattened to
``{key: value}`` (what older callers read), ``citation`` as ``{key: source}`` and the full tables
under ``entries``. A file without ``schema`` is read as a version-1 profile (flat ``[cost]``
numbers), as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomli

from modspike.errors import EnergyProfileError

PROFILE_DIR = Path(__file__).parent / "profiles"
SNN_KEYS = ("synop", "neuron_active", "neuron_inactive")
SCHEMA = "modspike-energy-profile/2"
TIERS = ("platform", "deployed", "lemaire")
SCOPES = ("core", "chip", "board", "system")
STATUSES = ("measured", "simulated", "estimated", "unverified")
EVIDENCE = ("primary", "secondary", "unverified")
RENAMED = {"spinnaker2": "spinnaker2_proto28"}


def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and np.isfinite(v)


def _need(table: dict, key: str, where: str, p: Path, kind: str, choices=()) -> object:
    """``table[key]`` of the given kind (``str``, ``number``, ``int``, ``bool``), or a one-line
    :class:`EnergyProfileError` that names the field."""
    if key not in table:
        raise EnergyProfileError(f"energy profile {p} lacks required field {where}{key}")
    v = table[key]
    ok = {
        "str": isinstance(v, str) and bool(v.strip()),
        "number": _is_number(v) and v >= 0,
        "int": isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "bool": isinstance(v, bool),
    }[kind]
    if kind == "str" and choices and v not in choices:
        ok = False
    if not ok:
        what = f"one of {', '.join(choices)}" if choices else f"a {kind}"
        if kind == "number":
            what = "a non-negative number"
        raise EnergyProfileError(f"energy profile {p}: {where}{key} = {v!r} is not {what}")
    return v


def _optional_choice(table: dict, key: str, where: str, p: Path, choices) -> None:
    if key in table:
        _need(table, key, where, p, "str", choices)


def _tables(data: dict, name: str, p: Path) -> dict:
    t = data.get(name, {})
    if not isinstance(t, dict) or not all(isinstance(v, dict) for v in t.values()):
        raise EnergyProfileError(f"energy profile {p}: [{name}] must hold one table per key")
    return t


def _validate_v2(data: dict, p: Path) -> dict:
    if data.get("schema") != SCHEMA:
        raise EnergyProfileError(
            f"energy profile {p}: schema {data.get('schema')!r} is not {SCHEMA!r}"
        )
    _need(data, "name", "", p, "str")
    _need(data, "tier", "", p, "str", TIERS)
    _need(data, "scope", "", p, "str", SCOPES)
    node = _need(data, "node_nm", "", p, "number")
    if node <= 0:
        raise EnergyProfileError(f"energy profile {p}: node_nm = {node!r} is not positive")
    _need(data, "status", "", p, "str", STATUSES)
    _need(data, "source", "", p, "str")
    _need(data, "evidence", "", p, "str", EVIDENCE)
    entries = _tables(data, "cost", p)
    if not entries:
        raise EnergyProfileError(f"energy profile {p} has no [cost.*] entries")
    for k, e in entries.items():
        where = f"cost.{k}."
        for field in ("unit", "per", "source"):
            _need(e, field, where, p, "str")
        _need(e, "value", where, p, "number")
        _optional_choice(e, "evidence", where, p, EVIDENCE)
        _optional_choice(e, "scope", where, p, SCOPES)
        if "count" in e:
            _need(e, "count", where, p, "str")
    for k, e in _tables(data, "param", p).items():
        _need(e, "value", f"param.{k}.", p, "number")
        _need(e, "unit", f"param.{k}.", p, "str")
        _need(e, "source", f"param.{k}.", p, "str")
    for k, e in _tables(data, "band", p).items():
        for field in ("m", "floor_bytes"):
            _need(e, field, f"band.{k}.", p, "number")
        _need(e, "registers", f"band.{k}.", p, "bool")
        _need(e, "source", f"band.{k}.", p, "str")
    for k, e in _tables(data, "cell", p).items():
        for field in ("mults", "mult_bits", "adds", "table_reads"):
            _need(e, field, f"cell.{k}.", p, "int")
        _need(e, "source", f"cell.{k}.", p, "str")
    for section, number in (("static", "power_w"), ("time", "step_s")):
        if section in data:
            t = data[section]
            if not isinstance(t, dict):
                raise EnergyProfileError(f"energy profile {p}: [{section}] must be a table")
            _need(t, number, f"{section}.", p, "number")
            _need(t, "source", f"{section}.", p, "str")
            _optional_choice(t, "scope", f"{section}.", p, SCOPES)
    out = dict(data)
    out["entries"] = entries
    out["cost"] = {k: float(e["value"]) for k, e in entries.items()}
    out["citation"] = {k: e["source"] for k, e in entries.items()}
    return out


def _validate_v1(data: dict, p: Path) -> dict:
    cost = data.get("cost")
    if not isinstance(cost, dict):
        raise EnergyProfileError(f"energy profile {p} has no [cost] table")
    for k, v in cost.items():
        if not _is_number(v):
            raise EnergyProfileError(f"energy profile {p}: cost.{k} = {v!r} is not a number")
    return data


def profile_path(name_or_path: str | Path) -> Path:
    """The file of a built-in profile name, or the given TOML path."""
    p = Path(name_or_path)
    if not p.suffix:
        if str(name_or_path) in RENAMED:
            raise EnergyProfileError(
                f"energy profile {name_or_path!r} was renamed {RENAMED[str(name_or_path)]!r}"
                " (it is the 28 nm prototype, not the final chip)"
            )
        p = PROFILE_DIR / f"{name_or_path}.toml"
    return p


def load_profile(name_or_path: str | Path, required=()) -> dict:
    """Load a built-in profile by name or a user TOML path; check ``required`` cost keys.

    Version-2 profiles are validated field by field; a missing or malformed field raises
    :class:`EnergyProfileError` naming it."""
    p = profile_path(name_or_path)
    if not p.is_file():
        raise EnergyProfileError(f"energy profile not found: {p}")
    try:
        data = tomli.loads(p.read_text())
    except tomli.TOMLDecodeError as e:
        raise EnergyProfileError(f"energy profile {p} is not valid TOML: {e}") from e
    data = _validate_v2(data, p) if "schema" in data else _validate_v1(data, p)
    for k in required:
        if k not in data["cost"]:
            raise EnergyProfileError(f"energy profile {p} lacks required key cost.{k}")
    return data


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped in ``profiles/``."""
    return sorted(f.stem for f in PROFILE_DIR.glob("*.toml"))


def snn_energy(counts: list[dict], profile="loihi") -> dict:
    """Energy (pJ) per layer and total from ``count_layers`` output (summed over time), and the
    total split into its ``components`` (synops, neuron updates active / inactive, spikes).

    A count the profile gives no figure for is listed in ``unpriced`` (never priced at zero
    silently)."""
    prof = load_profile(profile, SNN_KEYS)
    c = prof["cost"]
    prices = {
        "synops": ("effective", c["synop"]),
        "neuron_active": ("neuron_active", c["neuron_active"]),
        "neuron_inactive": ("neuron_inactive", c["neuron_inactive"]),
    }
    if "spike" in c:
        prices["spikes"] = ("spikes", c["spike"])
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
        "unpriced": [] if "spike" in c else ["spikes"],
        "total": float(sum(layers)),
    }
