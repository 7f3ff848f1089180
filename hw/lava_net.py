"""Build and run an :class:`IntNetwork` as a Lava process graph on the CPU simulator.

Graph: ``io.source.RingBuffer`` (every sample back to back) -> per layer a ``Dense`` (and a
recurrent ``Dense`` for recurrence) -> ``LIFReset`` (lif/cubalif) or our ``SRCLayer`` -> an
``io.sink.RingBuffer``. All samples run in ONE ``run()`` with ``Loihi2SimCfg(select_tag="fixed_pt")``.

Timing (``docs/hardware.md``): each sample takes ``period = T + 1`` steps (T input steps and one
silent gap step). Each feed-forward ``Dense`` delays by one step, so layer ``k`` (1-based) sees
sample ``s`` on Lava steps ``s*period + 1 + k .. s*period + T + k``; a recurrent ``Dense`` delivers
the previous step's output, exactly like ``IntNetwork.run``. LIF layers reset by ``LIFReset``
schedule at the first step of their window, SRC layers zero their state (and send zeros) on the
step before it. The rasters are read back and un-shifted, so they equal ``IntNetwork.run``'s.
"""

from __future__ import annotations

import time

import numpy as np
from modspike.errors import HardwareError
from modspike.fxpnet import LIF_KINDS, SRC_KINDS, IntLayer, IntNetwork
from modspike.hw.lava_support import import_lava


def _dense_weights(layer_syn) -> np.ndarray:
    # Lava's fixed-point Dense drops the LSB of mixed-sign 8-bit weights: pass 2q and shift back
    # by weight_exp = -1 (exact, 2q fits [-254, 254])
    return 2 * layer_syn.weights.mantissa.astype(np.int64)


def _uniform_shift(syn, what: str) -> int:
    shift = np.unique(np.asarray(syn.shift))
    if shift.size != 1:
        raise HardwareError(f"{what}: per-neuron weight exponents need one Dense per exponent")
    return int(shift[0])


def _lif_process(layer: IntLayer, period: int, offset: int):
    from lava.proc.lif.process import LIFReset

    if layer.recurrent is not None:
        raise HardwareError(
            "recurrent LIF layers are not supported on Lava yet (LIFReset leaks the recurrent"
            " input across samples); use an SRC-family layer or a feed-forward LIF"
        )
    p = layer.params
    lb = np.asarray(layer.bias, dtype=np.int64)
    if np.any(lb != 0):
        if layer.kind != "lif" or np.any(np.asarray(p.bias) != 0):
            raise HardwareError("a LIF input bias can only be mapped for plain LIF without v bias")
        bias_mant, bias_exp = lb, 6  # du=4095: u = a_in << 6 is added to v once, as the bias is
    else:
        bias_mant, bias_exp = np.asarray(p.bias, dtype=np.int64), 0
    n = layer.n
    return LIFReset(
        shape=(n,),
        du=np.broadcast_to(np.asarray(p.du), (n,)).astype(np.int32),
        dv=np.broadcast_to(np.asarray(p.dv), (n,)).astype(np.int32),
        vth=np.broadcast_to(np.asarray(p.vth), (n,)).astype(np.int32),
        bias_mant=np.broadcast_to(bias_mant, (n,)).astype(np.int32),
        bias_exp=np.full(n, bias_exp, dtype=np.int32),
        reset_interval=period,
        reset_offset=offset % period,
    )


def run_lava(net: IntNetwork, spikes: np.ndarray, fail_at_step: int | None = None):
    """Run ``spikes`` (T, batch, n_in) on Lava; returns ``(rasters, seconds, config)``.

    ``fail_at_step`` (tests only) raises inside the run loop after that many steps, to check that
    Lava is stopped after an exception.
    """
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from modspike.hw import src_models  # noqa: F401  (registers the SRCLayer models)
    from modspike.hw.src_process import SRCLayer

    spikes = np.asarray(spikes)
    steps, batch, n_in = spikes.shape
    if n_in != net.n_in:
        raise HardwareError(f"input spikes must have {net.n_in} channels, got {n_in}")
    period = steps + 1
    n_layers = len(net.layers)
    total = batch * period + n_layers
    data = np.zeros((n_in, total), dtype=np.int32)
    for s in range(batch):  # column c is sent on Lava step c + 1
        data[:, s * period : s * period + steps] = spikes[:, s, :].T
    source = Source(data=data)
    prev_port, prev_graded = source.s_out, False
    sinks = []
    for k, layer in enumerate(net.layers, start=1):
        if layer.kind in LIF_KINDS:
            shift = _uniform_shift(layer.synapse, f"layer {k}")
            cell = _lif_process(layer, period, 1 + k)
            w_exp = shift - 1  # 2q << (shift - 1) == q << shift, or (2q) >> 1 for shift 0
            in_port = cell.a_in
        elif layer.kind in SRC_KINDS:
            cell = SRCLayer(layer=layer, period=period, gap_offset=k)
            w_exp = -1  # exact q.s; SRCLayer applies the rounding shift itself
            in_port = cell.a_in
            if layer.recurrent is not None:
                rec = Dense(
                    weights=_dense_weights(layer.recurrent), weight_exp=-1, num_message_bits=24
                )
                cell.s_out.connect(rec.s_in)
                rec.a_out.connect(cell.r_in)
        else:
            raise HardwareError(f"layer {k}: cell {layer.kind!r} has no Lava mapping")
        dense = Dense(
            weights=_dense_weights(layer.synapse),
            weight_exp=w_exp,
            num_message_bits=24 if prev_graded else 0,
        )
        prev_port.connect(dense.s_in)
        dense.a_out.connect(in_port)
        sink = Sink(shape=(layer.n,), buffer=total)
        cell.s_out.connect(sink.a_in)
        sinks.append(sink)
        prev_port, prev_graded = cell.s_out, layer.kind in SRC_KINDS

    run_cfg = Loihi2SimCfg(select_tag="fixed_pt")
    config = {"backend": "lava", "period": period, "lava_steps": total, "select_tag": "fixed_pt"}
    seconds = 0.0
    try:
        if fail_at_step is not None:
            source.run(condition=RunSteps(num_steps=fail_at_step), run_cfg=run_cfg)
            raise HardwareError(f"injected failure after {fail_at_step} steps")
        t0 = time.perf_counter()  # the first step compiles the graph and starts the workers
        source.run(condition=RunSteps(num_steps=1), run_cfg=run_cfg)
        t1 = time.perf_counter()
        source.run(condition=RunSteps(num_steps=total - 1), run_cfg=run_cfg)
        seconds = time.perf_counter() - t1
        config["startup_seconds"] = t1 - t0
        recorded = [np.asarray(sink.data.get(), dtype=np.int64) for sink in sinks]
    finally:
        source.stop()
    rasters = []
    for k, rec in enumerate(recorded, start=1):
        out = np.zeros((steps, batch, rec.shape[0]), dtype=np.int64)
        for s in range(batch):  # layer k's step t of sample s lands in column s*period + t + k
            out[:, s, :] = rec[:, s * period + k : s * period + k + steps].T
        rasters.append(out)
    config["seconds_per_step"] = seconds / max(total - 1, 1)
    return rasters, seconds, config
