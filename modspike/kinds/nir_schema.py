"""Names and conventions of modspike's NIR files (``docs/nir-extensions.md``), shared by the kinds'
NIR codecs, the exporter and the importer (no nir import here)."""

from __future__ import annotations

import re

import numpy as np

from modspike.errors import ConfigError, NIRError

GRAPH_SCHEMA = "modspike-nir/1"  # graph-level metadata["modspike"]["schema"]
PLASTIC_GRAPH_SCHEMA = "modspike-nir/2"  # a graph with a plastic synapse (docs/plasticity.md)
EXTENSIONS = ("plasticity/1",)  # graph metadata["modspike"]["requires"]: what a reader must know
SRC_EXTENSION_SCHEMA = "modspike-nir-src/1"  # SRC-family subgraph metadata["modspike"]["schema"]
META_KEY = "modspike"  # our metadata lives under this key of a node's (or graph's) metadata
DEFAULT_DT = 1e-4  # seconds per step when nothing says otherwise: snntorch's convention
NONE_TOKEN = "none"  # NIR metadata cannot hold None (nir.write fails); constants use this string
RESET_MODE = "zero"  # the only reset Lava's LIF implements, and the one modspike trains with


def encode_constants(constants: dict) -> dict:
    """Constants for NIR metadata: None becomes ``"none"``, bools and numbers stay."""
    out = {}
    for key, value in constants.items():
        out[key] = NONE_TOKEN if value is None else value
    return out


def decode_constants(constants: dict) -> dict:
    out = {}
    for key, value in constants.items():
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str) and value == NONE_TOKEN:
            out[key] = None
        elif isinstance(value, np.generic):
            out[key] = value.item()
        elif isinstance(value, np.ndarray) and value.ndim == 0:
            out[key] = value.item()
        else:
            out[key] = value
    return out


def schema_version(text, expected: str, where: str) -> int:
    """Parse ``"name/N"``; refuse another name, or a version newer than ``expected``'s."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    name, _, version = expected.partition("/")
    match = re.fullmatch(rf"{re.escape(name)}/(\d+)", str(text))
    if not match:
        raise NIRError(f"{where}: unknown schema {text!r} (expected {expected!r})")
    found = int(match.group(1))
    if found > int(version):
        raise NIRError(
            f"{where}: written with schema {text!r}, newer than this modspike reads ({expected!r});"
            " upgrade modspike"
        )
    return found


def float32_tau_for_decay(decay: np.ndarray, dt: float) -> np.ndarray:
    """``tau`` (float32) with ``1 - dt/tau == decay`` *in float32 arithmetic*, as snntorch's
    importer computes it, so that a float32 round trip gives back exactly ``float32(decay)``.

    Starts at ``dt / (1 - decay)`` and tries the neighbouring float32 values.
    """
    decay = np.asarray(decay, dtype=np.float64)
    if np.any(decay >= 1.0):
        raise ConfigError(
            "a decay of 1 (no leak) has no finite NIR time constant; IF export is not supported"
        )
    target = decay.astype(np.float32)
    dt32 = np.float32(dt)
    tau = (dt / (1.0 - decay)).astype(np.float32)
    candidates, up, down = [tau], tau, tau
    for _ in range(8):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(-np.inf))
        candidates += [up, down]
    best, found = tau.copy(), np.zeros(tau.shape, dtype=bool)
    for cand in candidates:
        ok = ~found & ((np.float32(1) - dt32 / cand) == target)
        best, found = np.where(ok, cand, best), found | ok
    return best.astype(np.float32)
