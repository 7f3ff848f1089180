"""CubaLIF in NIR: the standard ``CubaLIF`` node plus modspike's metadata; ``read_foreign`` reads
a CubaLIF node as the tool that wrote it runs it (docs/nir-producers.md)."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError

from ...nir_schema import float32_tau_for_decay
from ...nir_values import array, modspike_meta, node_rule, rate, snap, v_reset
from ..lif.nir import cell_metadata, exact_inputs
from ..lif.rule import SpikeRule

CLAIMS = (nir.CubaLIF,)
"""Foreign NIR nodes this kind reads."""


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def write(layer, dt: float) -> nir.CubaLIF:
    p, n = layer.cell.params, layer.n
    tau_mem = float32_tau_for_decay(p.beta, dt)
    tau_syn = float32_tau_for_decay(p.alpha, dt)
    zeros = np.zeros(n, dtype=np.float32)
    k_mem = dt / tau_mem.astype(np.float64)
    return nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau_mem,
        r=_f32(tau_mem.astype(np.float64) / dt * np.asarray(p.gain)),
        v_leak=_f32(np.asarray(p.leak) / k_mem),
        v_threshold=_f32(p.threshold),
        v_reset=zeros if p.v_reset is None else _f32(p.v_reset),
        w_in=_f32(tau_syn.astype(np.float64) / dt * np.asarray(p.gain_syn)),
        metadata=cell_metadata(
            layer, dt, beta=np.asarray(p.beta), alpha=np.asarray(p.alpha), **exact_inputs(p)
        ),
    )


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import CubaLIFParams

    rule = node_rule(node, name)
    meta = modspike_meta(node)
    ks = rate(array(node, "tau_syn", name, n), dt, name, "tau_syn")
    km = rate(array(node, "tau_mem", name, n), dt, name, "tau_mem")

    def exact(key: str, value):
        return array(meta, key, name, n) if key in meta else value()

    params = CubaLIFParams(
        alpha=exact("alpha", lambda: 1.0 - ks),
        gain_syn=exact("gain_syn", lambda: snap(ks * array(node, "w_in", name, n))),
        beta=exact("beta", lambda: 1.0 - km),
        gain=exact("gain", lambda: snap(km * array(node, "r", name, n))),
        leak=exact("leak", lambda: km * array(node, "v_leak", name, n)),
        threshold=array(node, "v_threshold", name, n),
        v_reset=v_reset(node, name, n),
    )
    fixed = meta.get("fixed_point")
    return params, rule, fixed if isinstance(fixed, dict) else None


# --------------------------------------------------------------------------- other tools' files


def _params(node, name, n, alpha, gain_syn, beta, gain, leak, zero_reset=False):
    from .float_step import CubaLIFParams

    return CubaLIFParams(
        alpha=alpha,
        gain_syn=gain_syn,
        beta=beta,
        gain=gain,
        leak=leak,
        threshold=array(node, "v_threshold", name, n),
        v_reset=np.zeros(n) if zero_reset else v_reset(node, name, n),
    )


def _snntorch(node, name, n, reading):
    """``Synaptic``: alpha = 1 - dt/tau_syn, beta = 1 - dt/tau_mem, gains (dt/tau) w_in = (dt/tau)
    r = 1; the reset acts after the decay: subtract ``v - s[t-1] theta``, zero ``v (1 - s[t-1])``
    (the whole new value, this step's input included)."""
    dt = reading.dt
    ks = rate(array(node, "tau_syn", name, n), dt, name, "tau_syn")
    km = rate(array(node, "tau_mem", name, n), dt, name, "tau_mem")
    params = _params(
        node,
        name,
        n,
        1.0 - ks,
        snap(ks * array(node, "w_in", name, n)),
        1.0 - km,
        snap(km * array(node, "r", name, n)),
        km * array(node, "v_leak", name, n),
    )
    return params, SpikeRule(reading.reset, "late")


def _norse(node, name, n, reading):
    """``LIFCell``: the file's taus are dt * tau, per-step factors dt^2/tau; the current jumps by
    ``w_in I`` and v integrates the new current, then the current decays: NIR's CubaLIF with
    ``alpha = 1 - a_syn``, ``gain_syn = w_in``; reset to 0 at once."""
    dt = reading.dt
    a_s = rate(array(node, "tau_syn", name, n) / dt, dt, name, "tau_syn")
    a_m = rate(array(node, "tau_mem", name, n) / dt, dt, name, "tau_mem")
    params = _params(
        node,
        name,
        n,
        1.0 - a_s,
        array(node, "w_in", name, n),
        1.0 - a_m,
        snap(a_m * array(node, "r", name, n)),
        a_m * array(node, "v_leak", name, n),
    )
    return params, None


def _spyx(node, name, n, reading):
    """``CuBaLIF``: alpha = 1 - dt/tau_syn, beta = 1 - dt/tau_mem, gains 1 (Spyx writes r = beta),
    the spike read from v[t-1] and the threshold subtracted before and after the decay:
    ``v = beta (v - s theta) + i - s theta``."""
    dt = reading.dt
    ks = rate(array(node, "tau_syn", name, n), dt, name, "tau_syn")
    km = rate(array(node, "tau_mem", name, n), dt, name, "tau_mem")
    ones = np.ones(n)
    params = _params(node, name, n, 1.0 - ks, ones, 1.0 - km, ones.copy(), np.zeros(n), True)
    return params, SpikeRule("subtract", "both", delay=True)


FOREIGN = {"snntorch": _snntorch, "norse": _norse, "spyx": _spyx}


def read_foreign(node, name: str, n: int, reading):
    """``(params, constants)`` of a CubaLIF node written by ``reading.producer``."""
    reader = FOREIGN.get(reading.producer)
    if reader is None:
        raise NIRError(
            f"{name}: modspike does not know how {reading.producer} means a CubaLIF node (known:"
            f" {', '.join(FOREIGN)}); --producer nir reads it with NIR's forward-Euler meaning"
        )
    return reader(node, name, n, reading)
