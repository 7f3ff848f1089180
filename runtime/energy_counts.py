"""Tier (i), counts: what ``runtime/counters.py`` does not count yet (input events, synaptic events
with dense weight storage, graded events that need a multiply, neuron updates, state traffic),
from rasters and weights as numpy arrays, and the JSON ``counts`` block of the energy model.

Rasters are ``(T, B, n)`` arrays (time, sample, unit) in the network's units; weights are 2-D,
``(n, n_in)`` feed-forward and ``(n, n)`` recurrent. Recurrent synapses see the layer's own output
of the previous step (none at t = 0), as in ``counters.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from modspike.errors import ConfigError

from .energy_facts import (
    GRADED_SYNAPTIC_EVENTS,
    INPUT_EVENTS,
    NEURON_UPDATES,
    RECURRENT_INPUT_EVENTS,
    SPIKES,
    SYNAPTIC_EVENTS,
    AnnLayerFacts,
    LayerFacts,
    ReadoutFacts,
    check_encoding,
    count,
)
from .energy_tech import Technology, technology


def is_graded(x: np.ndarray) -> bool:
    """True when some value is outside {-1, 0, 1} (NeuroBench's per-layer test for MACs)."""
    return not bool(np.all(np.isin(np.asarray(x), (-1, 0, 1))))


def _raster(name: str, a, width: int | None = None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 3:
        raise ConfigError(f"{name} must be a (T, B, n) array, got shape {a.shape}")
    if width is not None and a.shape[2] != width:
        raise ConfigError(f"{name} has {a.shape[2]} units, the weights expect {width}")
    return a


def spiking_layer_events(
    inputs,
    outputs,
    weight,
    rec_weight=None,
    *,
    graded_input: bool | None = None,
    graded_output: bool | None = None,
    per_step: bool = False,
    fan_out: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Event counts of one spiking layer, per sample ``(B,)`` or per step and sample ``(T, B)``.

    ``inputs`` (T, B, n_in) is what reaches the layer (encoder spikes or the previous layer's
    output), ``outputs`` (T, B, n) its output, ``weight`` (n, n_in), ``rec_weight`` (n, n) or
    None. ``graded_input`` / ``graded_output`` say whether those carry a multi-bit payload (the
    cell kind knows); ``None`` infers it from the values (outside {-1, 0, 1}).

    Keys: ``input_events`` (non-zero presynaptic values, recurrent included),
    ``recurrent_input_events``, ``synaptic_events`` (each event reads its whole fan-out: stored
    zeros included), ``graded_synaptic_events`` (those with a graded payload, one multiply each),
    ``neuron_updates`` (n per step: time-driven), ``spikes`` (non-zero outputs).

    ``fan_out`` (n_in,): how many neurons each input reaches, for a synapse that is not a dense
    matrix (a convolution, pooling stages before it); ``weight`` is then ``(n, n_in)``'s shape
    only, or None with ``outputs`` giving ``n``."""
    if fan_out is None:
        w = np.asarray(weight)
        if w.ndim != 2:
            raise ConfigError(f"weight must be 2-D (n, n_in), got shape {w.shape}")
        n, n_in = w.shape
    else:
        fan_out = np.asarray(fan_out, dtype=np.float64).reshape(-1)
        n_in, n = fan_out.size, int(np.prod(np.shape(outputs)[2:]))
    x = _raster("inputs", inputs, n_in)
    y = _raster("outputs", outputs, n)
    if x.shape[:2] != y.shape[:2]:
        raise ConfigError(f"inputs {x.shape[:2]} and outputs {y.shape[:2]} differ in (T, B)")
    g_in = is_graded(x) if graded_input is None else graded_input
    g_out = is_graded(y) if graded_output is None else graded_output
    ff = (x != 0).sum(-1).astype(np.float64)
    rec = np.zeros_like(ff)
    if rec_weight is not None:
        r = np.asarray(rec_weight)
        if r.shape != (n, n):
            raise ConfigError(f"rec_weight must be ({n}, {n}), got {r.shape}")
        rec[1:] = (y[:-1] != 0).sum(-1)
    reach = ff * n if fan_out is None else (x != 0).astype(np.float64) @ fan_out
    d = {
        INPUT_EVENTS: ff + rec,
        RECURRENT_INPUT_EVENTS: rec,
        SYNAPTIC_EVENTS: reach + rec * n,
        GRADED_SYNAPTIC_EVENTS: (reach if g_in else 0 * ff) + (rec * n if g_out else 0 * rec),
        NEURON_UPDATES: np.full_like(ff, n),
        SPIKES: (y != 0).sum(-1).astype(np.float64),
    }
    return d if per_step else {k: v.sum(0) for k, v in d.items()}


def state_traffic_bits(neuron_updates, layer: LayerFacts) -> dict[str, np.ndarray]:
    """State bits read (k_s words and the parameters) and written (k_s words) by
    ``neuron_updates`` updates (an array of any shape, e.g. per step)."""
    u = np.asarray(neuron_updates, dtype=np.float64)
    word = layer.state_words * layer.state_bits
    return {"state_read_bits": u * (word + layer.param_bits), "state_write_bits": u * word}


def ann_layer_activity(x, weight) -> dict[str, float]:
    """Per-sample means for one dense ANN layer: ``x`` (B, n_in) its input activations,
    ``weight`` (n_out, n_in). ``macs_zero_skip`` = non-zero inputs x n_out."""
    w = np.asarray(weight)
    a = np.asarray(x)
    if w.ndim != 2 or a.ndim != 2 or a.shape[1] != w.shape[1]:
        raise ConfigError(f"ANN layer: input {a.shape} does not match weight {w.shape}")
    n_out, n_in = w.shape
    nz = float((a != 0).sum(1).mean()) if len(a) else 0.0
    return {
        "macs_dense": float(n_in * n_out),
        "macs_zero_skip": nz * n_out,
        "nonzero_inputs": nz,
        "activations_read": float(n_in),
        "activations_written": float(n_out),
    }


def encoder_ops(encoding: str, steps: int, n_in: int) -> float:
    """Encoder operations per inference: rate T n_in draws; latency n_in conversions, then
    T n_in compares; direct and events none (direct drives the first layer densely)."""
    check_encoding(encoding)
    return {
        "rate": steps * n_in,
        "latency": n_in + steps * n_in,
        "direct": 0,
        "events": 0,
    }[encoding]


def counts_block(
    layers: Sequence[LayerFacts],
    counts: Sequence[Mapping[str, float]],
    *,
    steps: int,
    encoding: str,
    readout: ReadoutFacts | None,
    profile: str | Technology | None = None,
) -> dict:
    """The JSON ``counts`` block (tier i): per layer the event counts, neuron updates, state
    traffic, accumulator read-modify-writes and buffer sizes (bytes), any further keys the caller
    gave (e.g. the NeuroBench-exact ones) unchanged; network-level encoder ops, readout time-sum
    updates and readout MACs. Accumulator and event-address widths come from ``profile``."""
    if len(counts) != len(layers) or not layers:
        raise ConfigError(f"{len(counts)} count sets for {len(layers)} layers")
    t = technology(profile)
    out_layers = []
    for k, (ly, c) in enumerate(zip(layers, counts)):
        u = count(c, NEURON_UPDATES, k)
        y = count(c, SYNAPTIC_EVENTS, k)
        row = {key: float(v) for key, v in c.items()}
        row.update(
            {
                INPUT_EVENTS: count(c, INPUT_EVENTS, k),
                SYNAPTIC_EVENTS: y,
                GRADED_SYNAPTIC_EVENTS: count(c, GRADED_SYNAPTIC_EVENTS, k, 0.0),
                NEURON_UPDATES: u,
                "accumulator_rmw": y,
                **{key: float(v) for key, v in state_traffic_bits(u, ly).items()},
                "buffers_bytes": {
                    "weights": ly.weight_bytes,
                    "state": ly.state_bytes,
                    "tables": ly.table_bytes,
                    "accumulators": ly.n * t.snn_acc_bits / 8,
                    "event_queue": ly.sources * t.event_bits / 8,
                },
                "memory_bits": ly.memory_bits,
            }
        )
        out_layers.append(row)
    block = {
        "kind": "modeled",
        "tier": "counts",
        "steps": steps,
        "encoding": encoding,
        "encoder_ops": float(encoder_ops(encoding, steps, layers[0].n_in)),
        "layers": out_layers,
    }
    if readout is not None:
        block["readout_sum_updates"] = count(counts[-1], SPIKES, len(layers) - 1)
        block["readout_macs"] = float(readout.classes * layers[-1].n)
    return block


def ann_counts_block(
    layers: Sequence[AnnLayerFacts], nonzero_inputs: Sequence[float] | None = None
) -> dict:
    """The ANN side of the ``counts`` block: MACs dense and zero-skipping, activations."""
    if nonzero_inputs is not None and len(nonzero_inputs) != len(layers):
        raise ConfigError(f"{len(nonzero_inputs)} non-zero counts for {len(layers)} ANN layers")
    rows = []
    for k, ly in enumerate(layers):
        row = {
            "macs_dense": float(ly.dense_macs),
            "activations_read": float(ly.n_in),
            "activations_written": float(ly.n_out),
        }
        if nonzero_inputs is not None:
            nz = float(nonzero_inputs[k])
            row["nonzero_inputs"] = nz
            row["macs_zero_skip"] = ly.dense_macs * nz / ly.n_in
        rows.append(row)
    total = {key: float(sum(r[key] for r in rows)) for key in rows[0]}
    return {"kind": "modeled", "tier": "counts", "side": "ann", "layers": rows, "total": total}
