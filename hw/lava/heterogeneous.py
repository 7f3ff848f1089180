"""Heterogeneous LIF layers on Lava: one process per distinct neuron profile (measurement).

Lava declares ``du``, ``dv`` and ``vth`` of its LIF processes with one value per process
(``Var(shape=(1,))``, "only a single decay can be set for the entire population"); Loihi keeps
them in a few shared compartment profiles. Lava's CPU model nevertheless broadcasts per-neuron
arrays, so modspike's standard mapping (one ``LIFReset`` holding per-neuron arrays,
``hw/lava/cells/lif.py``) runs a heterogeneous layer bit-exactly in simulation. What hardware needs
is one process per distinct ``(du, dv, vth)`` profile, each fed by its own ``Dense`` (the rows of
its neurons): :func:`run_profiles` builds that graph for one layer so that the benchmark can
compare its spikes (equal) and its cost (``benchmarks/heterogeneity.py``).
"""

from __future__ import annotations

import time

import numpy as np

from modspike.errors import HardwareError

from .cells.lif import fixed_kwargs, uniform_shift
from .support import import_lava
from .synapses import dense_bits, dense_weights


def profiles(layer) -> list[np.ndarray]:
    """Neuron indices of each distinct ``(du, dv, vth)`` of a quantised LIF / CubaLIF layer."""
    p = layer.cell.fixed.params
    n = layer.n
    keys = np.stack([np.broadcast_to(np.asarray(v), (n,)) for v in (p.du, p.dv, p.vth)], axis=1)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    return [np.flatnonzero(inverse.reshape(-1) == g) for g in range(int(inverse.max()) + 1)]


def run_profiles(net, spikes: np.ndarray) -> tuple[np.ndarray, float, int]:
    """The first layer of ``net`` (quantised LIF / CubaLIF) on Lava as one ``LIFReset`` per
    profile; ``(raster (T, batch, n), seconds, processes)`` for samples ``spikes``."""
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIFReset

    from modspike.step import fixed_shifts

    from .graph import _from_columns, _to_columns

    layer = net.layers[0]
    steps, batch = spikes.shape[:2]
    period = steps + 1
    total = batch * period + 1
    x = np.asarray(spikes).reshape(steps, batch, -1)
    source = Source(data=_to_columns(x, period, 0, total).astype(np.int32))
    shift, _ = fixed_shifts(layer)
    weights, weight_exp = dense_weights(
        layer.synapse.fixed, uniform_shift(shift, f"layer {layer.name}")
    )
    kw = fixed_kwargs(layer)
    groups = profiles(layer)
    sinks = []
    for rows in groups:
        sub = {k: (v[rows] if isinstance(v, np.ndarray) else (len(rows),)) for k, v in kw.items()}
        cell = LIFReset(**sub, reset_interval=period, reset_offset=2 % period)
        w = weights[rows]
        dense = Dense(weights=w, weight_exp=weight_exp, num_weight_bits=dense_bits(w))
        source.s_out.connect(dense.s_in)
        dense.a_out.connect(cell.a_in)
        sink = Sink(shape=(len(rows),), buffer=total)
        cell.s_out.connect(sink.a_in)
        sinks.append(sink)
    try:
        source.run(RunSteps(1), Loihi2SimCfg(select_tag="fixed_pt"))  # compile and start
        t0 = time.perf_counter()
        source.run(RunSteps(total - 1), Loihi2SimCfg(select_tag="fixed_pt"))
        seconds = time.perf_counter() - t0
        data = [np.asarray(s.data.get()) for s in sinks]
    except Exception as exc:
        raise HardwareError(f"Lava profile run failed: {type(exc).__name__}: {exc}") from exc
    finally:
        source.stop()
    raster = np.zeros((steps, batch, layer.n), dtype=np.int64)
    for rows, rec in zip(groups, data):
        raster[:, :, rows] = _from_columns(rec, steps, batch, period, 1)
    return raster, seconds, len(groups)
