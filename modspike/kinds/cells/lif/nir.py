"""LIF in NIR: the standard ``LIF`` node, whose forward-Euler step at ``dt`` is the discrete cell;
modspike's metadata adds the exact decay, the threshold, the spike rule of a layer imported with
another tool's conventions, and the integer model.

``read_foreign`` reads a LIF node as the tool that wrote it runs it (docs/nir-producers.md; the
formulas are those of tests/peer_reference.py): one reader per producer."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError
from modspike.fixedpoint import FORMAT_VERSION

from ...nir_schema import META_KEY, RESET_MODE, float32_tau_for_decay
from ...nir_values import array, modspike_meta, node_rule, rate, snap, v_reset
from .rule import SpikeRule, custom

CLAIMS = (nir.LIF,)
"""Foreign NIR nodes this kind reads."""


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def cell_metadata(layer, dt: float, **extra) -> dict:
    """The metadata of a LIF-family node: the step, the reset, and modspike's exact values (the
    threshold and ``extra``), the spike rule of a layer read with another tool's conventions and,
    for a quantised layer, the integer model."""
    cell = layer.cell
    rule = custom(cell.constants)
    meta = {
        "dt": float(dt),
        "reset_mode": RESET_MODE if rule is None else rule.reset,
        META_KEY: {
            "format": FORMAT_VERSION,
            "kind": cell.kind.name,
            "threshold": np.asarray(cell.params.threshold),
            **extra,
        },
    }
    if rule is not None:
        meta[META_KEY]["rule"] = rule.to_dict()
    if cell.fixed is not None:
        meta[META_KEY]["fixed_point"] = cell.kind.quant.to_dict(cell.fixed)
    return meta


def write(layer, dt: float) -> nir.LIF:
    p, n = layer.cell.params, layer.n
    tau_mem = float32_tau_for_decay(p.beta, dt)
    zeros = np.zeros(n, dtype=np.float32)
    return nir.LIF(
        tau=tau_mem,
        r=_f32(tau_mem.astype(np.float64) / dt * np.asarray(p.gain)),
        v_leak=_f32(np.divide(p.leak, dt / tau_mem.astype(np.float64))),
        v_threshold=_f32(p.threshold),
        v_reset=zeros if getattr(p, "v_reset", None) is None else _f32(p.v_reset),
        metadata=cell_metadata(layer, dt, beta=np.asarray(p.beta), **exact_inputs(p)),
    )


def exact_inputs(p) -> dict:
    """The input gain and leak for the metadata where they are not the trained 1 and 0 (an
    imported layer's; NIR's float32 r and v_leak would lose digits)."""
    out = {}
    for field, plain in (("gain", 1.0), ("gain_syn", 1.0), ("leak", 0.0)):
        value = getattr(p, field, None)
        if value is not None and np.any(np.asarray(value) != plain):
            out[field] = np.asarray(value, dtype=np.float64)
    return out


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import LIFParams

    rule = node_rule(node, name)
    meta = modspike_meta(node)
    k = rate(array(node, "tau", name, n), dt, name)
    beta = array(meta, "beta", name, n) if "beta" in meta else 1.0 - k
    gain = array(meta, "gain", name, n) if "gain" in meta else snap(k * array(node, "r", name, n))
    leak = array(meta, "leak", name, n) if "leak" in meta else k * array(node, "v_leak", name, n)
    params = LIFParams(
        beta=beta,
        threshold=array(node, "v_threshold", name, n),
        gain=gain,
        leak=leak,
        v_reset=v_reset(node, name, n),
    )
    fixed = meta.get("fixed_point")
    return params, rule, fixed if isinstance(fixed, dict) else None


# --------------------------------------------------------------------------- other tools' files


def _euler(node, name, n, dt, rule=None):
    """NIR's forward Euler at ``dt``: ``v = (1 - dt/tau) v + dt/tau (r I + v_leak)``."""
    from .float_step import LIFParams

    k = rate(array(node, "tau", name, n), dt, name)
    params = LIFParams(
        beta=1.0 - k,
        threshold=array(node, "v_threshold", name, n),
        gain=snap(k * array(node, "r", name, n)),
        leak=k * array(node, "v_leak", name, n),
        v_reset=v_reset(node, name, n),
    )
    return params, rule


def _snntorch(node, name, n, reading):
    """``Leaky``: beta = 1 - dt/tau, input gain (dt/tau) r = 1; subtract (the default) acts after
    the decay, ``v = beta v + x - s[t-1] theta``; zero: ``v = beta (1 - s[t-1]) v + x``, NIR's."""
    rule = SpikeRule("subtract", "late") if reading.reset == "subtract" else None
    return _euler(node, name, n, reading.dt, rule)


def _norse(node, name, n, reading):
    """``LIFBoxCell``: Norse writes tau = dt * tau_mem, so the per-step factor is dt^2 / tau."""
    from .float_step import LIFParams

    a = rate(array(node, "tau", name, n) / reading.dt, reading.dt, name)
    params = LIFParams(
        beta=1.0 - a,
        threshold=array(node, "v_threshold", name, n),
        gain=snap(a * array(node, "r", name, n)),
        leak=a * array(node, "v_leak", name, n),
        v_reset=v_reset(node, name, n),
    )
    return params, None


def _spikingjelly(node, name, n, reading):
    """``LIFNode``: NIR's forward Euler, firing at ``v >= threshold``."""
    return _euler(node, name, n, reading.dt, SpikeRule(fire="ge"))


def _spyx(node, name, n, reading):
    """``LIF``: beta = 1 - dt/tau; the input enters with gain 1 (Spyx writes r = beta); the spike
    of step t is read from v[t-1] and subtracted after the decay."""
    from .float_step import LIFParams

    k = rate(array(node, "tau", name, n), reading.dt, name)
    params = LIFParams(
        beta=1.0 - k,
        threshold=array(node, "v_threshold", name, n),
        gain=np.ones(n),
        leak=np.zeros(n),
        v_reset=np.zeros(n),
    )
    return params, SpikeRule("subtract", "late", delay=True)


FOREIGN = {
    "snntorch": _snntorch,
    "norse": _norse,
    "spikingjelly": _spikingjelly,
    "spyx": _spyx,
}


def read_foreign(node, name: str, n: int, reading):
    """``(params, constants)`` of a LIF node written by ``reading.producer``."""
    reader = FOREIGN.get(reading.producer)
    if reader is None:
        raise NIRError(
            f"{name}: modspike does not know how {reading.producer} means a LIF node (known:"
            f" {', '.join(FOREIGN)}); --producer nir reads it with NIR's forward-Euler meaning"
        )
    return reader(node, name, n, reading)
