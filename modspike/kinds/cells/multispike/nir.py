"""The multi-spike LIF in NIR: modspike's extension subgraph ``Input -> CubaLIF | IF -> Output``
whose metadata holds the exact parameters (NIR has no spike-count neuron: a consumer that ignores
the metadata runs a single-spike neuron with a reset to zero, which is what Sinabs' and Rockpool's
own files also say). ``read_foreign`` reads Sinabs' LIF / IF / CubaLIF and Rockpool's CubaLIF
nodes as those tools run them (docs/nir-producers.md)."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError
from modspike.fixedpoint import FORMAT_VERSION

from ...nir_schema import META_KEY, float32_tau_for_decay, schema_version
from ...nir_values import array
from ...values import per_neuron

EXTENSION = "multispike"
SCHEMA = "modspike-nir-multispike/1"
FIELDS = ("alpha", "gain_syn", "beta", "gain", "leak", "threshold")


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _core(p, n: int, dt: float) -> nir.NIRNode:
    """A standard node that says what it can: CubaLIF, or IF where the membrane does not leak."""
    thr = _f32(p.threshold)
    if np.any(np.asarray(p.beta) >= 1.0):
        return nir.IF(r=_f32(np.asarray(p.gain) / dt), v_threshold=thr, v_reset=np.zeros(n, "f4"))
    tau_mem = float32_tau_for_decay(p.beta, dt)
    tau_syn = float32_tau_for_decay(p.alpha, dt)
    return nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau_mem,
        r=_f32(tau_mem.astype(np.float64) / dt * np.asarray(p.gain)),
        v_leak=_f32(np.asarray(p.leak) * tau_mem.astype(np.float64) / dt),
        v_threshold=thr,
        v_reset=np.zeros(n, dtype=np.float32),
        w_in=_f32(tau_syn.astype(np.float64) / dt * np.asarray(p.gain_syn)),
    )


def write(layer, dt: float) -> nir.NIRGraph:
    cell, n = layer.cell, layer.n
    p = cell.params
    meta = {
        "dt": float(dt),
        "reset_mode": "subtract",
        META_KEY: {
            "extension": EXTENSION,
            "schema": SCHEMA,
            "format": FORMAT_VERSION,
            "params": {k: np.asarray(getattr(p, k), dtype=np.float64) for k in FIELDS},
            "output": "spike counts: floor(v / threshold) where v >= threshold, subtracted at once",
        },
    }
    if cell.fixed is not None:
        meta[META_KEY]["fixed_point"] = cell.kind.quant.to_dict(cell.fixed)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "core": _core(p, n, dt),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "core"), ("core", "output")],
        metadata=meta,
    )


def read(node, name: str, n: int, dt: float, kind):
    from .float_step import MultiSpikeParams

    meta = node.metadata.get(META_KEY) if isinstance(node.metadata, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("params"), dict):
        raise NIRError(f"{name}: the multispike extension lacks its parameters")
    schema_version(meta.get("schema"), SCHEMA, name)
    params = meta["params"]
    missing = [k for k in FIELDS if k not in params]
    if missing:
        raise NIRError(f"{name}: the multispike extension lacks {', '.join(missing)}")
    try:
        values = {k: per_neuron(params[k], n, f"{name}: {k}") for k in FIELDS}
    except Exception as exc:  # QuantizationError or numpy's own on odd values
        raise NIRError(f"{name}: {exc}") from None
    _check_threshold(values["threshold"], name)
    fixed = meta.get("fixed_point")
    return MultiSpikeParams(**values), None, fixed if isinstance(fixed, dict) else None


def _check_threshold(thr: np.ndarray, name: str) -> None:
    if np.any(thr <= 0):
        raise NIRError(f"{name}: a spike-counting neuron needs thresholds > 0")


# --------------------------------------------------------------------------- other tools' files


def _params(node, name, n, alpha, gain_syn, beta, gain):
    from .float_step import MultiSpikeParams

    leak = array(node, "v_leak", name, n) if hasattr(node, "v_leak") else np.zeros(n)
    if np.any(leak != 0):
        raise NIRError(f"{name}: a leak potential v_leak != 0 is not in this producer's update")
    thr = array(node, "v_threshold", name, n)
    _check_threshold(thr, name)
    return MultiSpikeParams(alpha, gain_syn, beta, gain, np.zeros(n), thr)


def _positive(node, attr: str, name: str, n: int) -> np.ndarray:
    tau = array(node, attr, name, n)
    if np.any(tau <= 0):
        raise NIRError(f"{name}: {attr} must be positive")
    return tau


def _sinabs(node, name, n, reading):
    """Sinabs 2.0 (tau in steps, dt = 1): ``LIF`` ``v = a v + (1 - a) r I`` with
    ``a = exp(-dt/tau)``; ``IAF`` ``v += r I``; ``LIF(tau_syn)`` (exported as CubaLIF)
    ``i = exp(-dt/tau_syn) (i + w_in I)``, then v as LIF's with ``i`` as the input."""
    dt, zero, one = reading.dt, np.zeros(n), np.ones(n)
    if isinstance(node, nir.IF):
        return _params(node, name, n, zero, one, one.copy(), array(node, "r", name, n)), None
    if isinstance(node, nir.LIF):
        a = np.exp(-dt / _positive(node, "tau", name, n))
        return _params(node, name, n, zero, one, a, (1 - a) * array(node, "r", name, n)), None
    a_m = np.exp(-dt / _positive(node, "tau_mem", name, n))
    a_s = np.exp(-dt / _positive(node, "tau_syn", name, n))
    gain_syn = a_s * array(node, "w_in", name, n)
    return _params(node, name, n, a_s, gain_syn, a_m, (1 - a_m) * array(node, "r", name, n)), None


def _rockpool(node, name, n, reading):
    """Rockpool 3.1 ``LIFTorch`` (CubaLIF): ``i = exp(-dt/tau_syn) (i + w_in I)``,
    ``v = exp(-dt/tau_mem) v + i`` (its r only encodes dt and is not an input gain)."""
    if not isinstance(node, nir.CubaLIF):
        raise NIRError(f"{name}: Rockpool writes CubaLIF neurons, not {type(node).__name__}")
    dt = reading.dt
    a_m = np.exp(-dt / _positive(node, "tau_mem", name, n))
    a_s = np.exp(-dt / _positive(node, "tau_syn", name, n))
    gain_syn = a_s * array(node, "w_in", name, n)
    return _params(node, name, n, a_s, gain_syn, a_m, np.ones(n)), None


FOREIGN = {"sinabs": _sinabs, "rockpool": _rockpool}


def read_foreign(node, name: str, n: int, reading):
    reader = FOREIGN.get(reading.producer)
    if reader is None:
        raise NIRError(
            f"{name}: spike-counting neurons are read from {', '.join(FOREIGN)} files only"
        )
    return reader(node, name, n, reading)
