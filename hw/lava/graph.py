"""Build and run a network as a Lava process graph on the CPU simulator.

Graph: ``io.source.RingBuffer`` -> per layer its synapse processes (``Dense``, Lava's ``Conv`` for
convolutions and pooling, :mod:`.synapses`; a recurrent ``Dense`` for recurrence)
-> the cell: Lava's own neuron where the kind has one (``hw/lava/cells``: LIF, CubaLIF ->
``LIFReset``), else our generic ``StepLayer`` running the kind's step -> a ``CountSink``
(per-sample totals) and, when rasters are wanted, an ``io.sink.RingBuffer``. ``fixed_pt`` runs a
quantised network's integer model, ``floating_pt`` its float parameters.

Timing (``docs/hardware.md``): every ``period`` Lava steps carry one sample (or one environment
step), of which ``window`` are network steps. Each feed-forward ``Dense`` delays by one step, so
layer ``k`` (1-based) runs step ``t`` of sample ``s`` on Lava step ``s*period + 1 + h_k + t``,
``h_k`` the synapse processes up to layer ``k`` (``k`` without pooling stages,
:func:`.synapses.hops`); a recurrent ``Dense`` delivers the previous step's output, exactly as the simulator does. Off
the window, layers reset (classification: ``period = T + 1``, one silent gap step per sample) or
hold their state (the closed loop of :class:`LavaSession`: ``period = window + layers``, so the
last layer has finished an environment step before the host sends the next input).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from modspike.errors import HardwareError
from modspike.network import Network
from modspike.registry import require

from .cells import native
from .support import import_lava
from .synapses import GRADED_MAX, Delivery, connect, dense_mantissas, hops

PRECISIONS = {"fixed": "fixed_pt", "float": "floating_pt"}


class _Layer(NamedTuple):  # not a dataclass: Lava imports model files outside sys.modules
    cell: object
    sink: object
    counter: object
    mod: object


def _step_layer(layer, fixed: bool, period: int, window: int, first: int, reset: bool, mod: bool):
    """modspike's generic StepLayer for a kind without a Lava neuron of its own."""
    from modspike.hw.lava.procs.processes import StepLayer

    arith = require(layer.cell.kind, "fixed" if fixed else "floating", f"layer {layer.name}")
    fields = len(arith.initial_state(1, layer.n))
    cell = StepLayer(
        layer=layer,
        fields=fields,
        period=period,
        window=window,
        first=first,
        reset=reset,
        modulated=mod,
    )
    if fixed:  # the StepLayer applies the shifts itself: its synapse delivers mantissa . x
        rec = None if layer.recurrent is None else dense_mantissas(layer.recurrent.fixed)
        return cell, Delivery(shift=0), rec
    rec = None if layer.recurrent is None else np.asarray(layer.recurrent.weight, np.float64)
    return cell, Delivery(), rec


class LavaGraph:
    """The process graph of one network (see the module docstring); ``run`` / ``stop`` it.

    ``columns``: length of the source ring buffers (every sample back to back, or one period for
    a closed loop). ``count_samples``: attach a :class:`CountSink` per layer for that many
    samples. ``record``: attach raster sinks of ``columns`` steps. ``input_max``: a bound of a
    graded input's magnitude (default: the 24-bit state range), for the 24-bit analysis of Lava's
    Conv (:mod:`modspike.hw.lava.synapses`).
    """

    def __init__(
        self,
        net: Network,
        precision: str,
        period: int,
        window: int,
        columns: int,
        reset: bool = True,
        modulated: bool = False,
        graded_input: bool = False,
        count_samples: int | None = None,
        record: bool = False,
        input_max: float | None = None,
    ):
        import_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source

        from modspike.hw.lava.procs import models  # noqa: F401  (registers our process models)
        from modspike.hw.lava.procs.processes import CountSink

        if precision not in PRECISIONS:
            raise HardwareError(f"unknown precision {precision!r}; use fixed or float")
        fixed = precision == "fixed"
        if fixed and not net.quantized:
            raise HardwareError(
                "fixed precision runs a quantised network (the artifact's integer model)"
            )
        n_in = net.n_in
        dtype = np.int32 if fixed else np.float64
        self.source = Source(data=np.zeros((n_in, columns), dtype=dtype))
        self.layers: list[_Layer] = []
        self.offsets = hops(net)  # layer k runs on Lava step s*period + 1 + offsets[k] + t
        self.synapse_processes: list[list[str]] = []
        prev_port, prev_graded = self.source.s_out, graded_input
        x_max = (GRADED_MAX if input_max is None else float(input_max)) if graded_input else 1.0
        for k, layer in enumerate(net.layers, start=1):
            first = 1 + self.offsets[k - 1]
            mapping = native(layer.cell.kind, layer, fixed)
            if mapping is not None:
                if not reset:
                    raise HardwareError(
                        f"layer {k}: {layer.cell.kind.name} layers cannot hold state between"
                        " windows (LIFReset)"
                    )
                if modulated:
                    raise HardwareError(
                        f"layer {k}: {layer.cell.kind.name} layers take no modulation signal"
                    )
                cell, delivery = mapping[0 if fixed else 1](layer, period, first)
                rec_w = None
            else:
                if modulated:
                    require(layer.cell.kind, "modulation", f"layer {k} on a modulated graph")
                cell, delivery, rec_w = _step_layer(
                    layer, fixed, period, window, first, reset, modulated
                )
            if rec_w is not None:
                rec = Dense(weights=rec_w, weight_exp=-1 if fixed else 0, num_message_bits=24)
                cell.s_out.connect(rec.s_in)
                rec.a_out.connect(cell.r_in)
            links = connect(
                prev_port,
                layer.in_shape,
                layer.synapse,
                cell.a_in,
                delivery,
                fixed=fixed,
                graded=prev_graded,
                x_max=x_max,
            )
            self.synapse_processes.append([link.process for link in links])
            mod = None
            if modulated:
                mod = Source(data=np.zeros((3, layer.n, columns), dtype=dtype))
                mod.s_out.connect(cell.mod_in)
            sink = None
            if record:
                sink = Sink(shape=(layer.n,), buffer=columns)
                cell.s_out.connect(sink.a_in)
            counter = None
            if count_samples is not None:
                counter = CountSink(
                    n=layer.n, samples=count_samples, period=period, window=window, first=first
                )
                cell.s_out.connect(counter.a_in)
            self.layers.append(_Layer(cell, sink, counter, mod))
            prev_port = cell.s_out
            prev_graded = layer.cell.kind.output.value == "graded"
            x_max = GRADED_MAX if prev_graded else 1.0
        from lava.magma.core.run_configs import Loihi2SimCfg

        self.run_cfg = Loihi2SimCfg(select_tag=PRECISIONS[precision])
        self.steps_done = 0

    def run(self, steps: int) -> None:
        from lava.magma.core.run_conditions import RunSteps

        self.source.run(condition=RunSteps(num_steps=steps), run_cfg=self.run_cfg)
        self.steps_done += steps

    def stop(self) -> None:
        """Stop the runtime if one was started (also after a failed first ``run``)."""
        self.source.stop()  # Lava's stop() is a no-op when no runtime exists


def _to_columns(x: np.ndarray, period: int, offset: int, total: int) -> np.ndarray:
    """Samples ``x`` (T, batch, *shape) back to back as ring-buffer columns ``(*shape, total)``:
    step ``t`` of sample ``s`` in column ``s*period + t + offset``, zeros elsewhere."""
    steps, batch, inner = x.shape[0], x.shape[1], x.shape[2:]
    block = np.zeros((*inner, batch, period))
    block[..., :steps] = np.moveaxis(x, (0, 1), (-1, -2))
    out = np.zeros((*inner, total))
    out[..., offset : offset + batch * period] = block.reshape(*inner, batch * period)
    return out


def _from_columns(rec: np.ndarray, steps: int, batch: int, period: int, offset: int):
    """The inverse of :func:`_to_columns` for a sink buffer ``(n, total)``: ``(T, batch, n)``."""
    block = rec[:, offset : offset + batch * period].reshape(rec.shape[0], batch, period)
    return np.moveaxis(block[..., :steps], (-1, -2), (0, 1))


def run_lava(
    net,
    spikes: np.ndarray,
    precision: str = "fixed",
    record: bool = True,
    modulation=None,
    fail_at_step: int | None = None,
):
    """Run samples ``spikes`` (T, batch, n_in) back to back in ONE Lava run.

    Returns ``(rasters or None, totals, events, seconds, config)``: per layer the raster
    ``(T, batch, n)`` (``record=True``, read from ring-buffer sinks: slow, for tests), and from the
    counting sinks the per-sample sum ``totals[k]`` and non-zero count ``events[k]`` ``(batch, n)``.
    ``modulation``: per layer ``None`` or a ``(gain, bias, hs0)`` triple of ``(T, batch, n)``
    arrays (state units in fixed precision). ``fail_at_step`` (tests only) raises inside the run
    loop after that many steps, to check that Lava is stopped after an exception.
    """
    spikes = np.asarray(spikes)
    steps, batch = spikes.shape[:2]
    spikes = spikes.reshape(steps, batch, -1)
    if spikes.shape[2] != net.n_in:
        raise HardwareError(f"input spikes must have {net.n_in} channels, got {spikes.shape[2]}")
    period, offsets = steps + 1, hops(net)
    total = batch * period + offsets[-1]
    modulated = modulation is not None and any(m is not None for m in modulation)
    graph = LavaGraph(
        net,
        precision,
        period,
        steps,
        total,
        modulated=modulated,
        graded_input=bool(np.any((spikes != 0) & (spikes != 1))),
        count_samples=batch,
        record=record,
        input_max=float(np.abs(spikes).max(initial=0)),
    )
    # column c is sent on Lava step c + 1; layer k reads its input (through a Dense) and its
    # modulation (directly) on step s*period + 1 + h_k + t, i.e. modulation column s*period + t + h_k
    data = _to_columns(spikes, period, 0, total)
    graph.source.data.init = data.astype(graph.source.data.init.dtype)
    n_layers = len(net.layers)
    for k, (layer, mod) in enumerate(zip(graph.layers, modulation or [None] * n_layers), 1):
        if modulated:
            if mod is not None:
                off = offsets[k - 1]
                m = _to_columns(np.stack([np.asarray(f) for f in mod], axis=2), period, off, total)
            else:  # identity: gain 1, no offsets
                m = np.zeros(layer.mod.data.shape)
                m[0] = 1.0 if precision == "float" else 2.0 ** -net.layers[k - 1].cell.fixed.out_exp
            layer.mod.data.init = m.astype(layer.mod.data.init.dtype)
    config = {
        "backend": "lava",
        "period": period,
        "lava_steps": total,
        "select_tag": PRECISIONS[precision],
        "synapse_processes": graph.synapse_processes,
    }
    seconds = 0.0
    try:
        if fail_at_step is not None:
            graph.run(fail_at_step)
            raise HardwareError(f"injected failure after {fail_at_step} steps")
        t0 = time.perf_counter()  # the first step compiles the graph and starts the workers
        graph.run(1)
        t1 = time.perf_counter()
        graph.run(total - 1)
        seconds = time.perf_counter() - t1
        config["startup_seconds"] = t1 - t0
        totals = [np.asarray(ly.counter.total.get()).T for ly in graph.layers]
        events = [np.asarray(ly.counter.events.get()).T.astype(np.int64) for ly in graph.layers]
        recorded = [np.asarray(ly.sink.data.get()) for ly in graph.layers] if record else None
    finally:
        graph.stop()
    rasters = None
    if recorded is not None:  # layer k's step t of sample s lands in column s*period + t + hops
        rasters = [
            _from_columns(rec, steps, batch, period, off) for off, rec in zip(offsets, recorded)
        ]
    config["seconds_per_step"] = seconds / max(total - 1, 1)
    return rasters, totals, events, seconds, config
