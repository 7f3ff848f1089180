"""Build and run a network as a Lava process graph on the CPU simulator.

Graph: ``io.source.RingBuffer`` -> per layer a ``Dense`` (and a recurrent ``Dense`` for recurrence)
-> ``LIFReset`` (lif/cubalif) or our ``SRCLayer`` -> a :class:`CountSink` (per-sample totals) and,
when rasters are wanted, an ``io.sink.RingBuffer``. ``fixed_pt`` builds from the artifact's
:class:`IntNetwork`, ``floating_pt`` from its float :class:`NetSpec`.

Timing (``docs/hardware.md``): every ``period`` Lava steps carry one sample (or one environment
step), of which ``window`` are network steps. Each feed-forward ``Dense`` delays by one step, so
layer ``k`` (1-based) runs step ``t`` of sample ``s`` on Lava step ``s*period + 1 + k + t``; a
recurrent ``Dense`` delivers the previous step's output, exactly like ``IntNetwork.steps``. Off
the window, layers reset (classification: ``period = T + 1``, one silent gap step per sample) or
hold their state (the closed loop of :class:`LavaSession`: ``period = window + layers``, so the
last layer has finished an environment step before the host sends the next input).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
from modspike.errors import HardwareError
from modspike.fxpnet import LIF_KINDS, SRC_KINDS, IntLayer, IntNetwork
from modspike.hw.lava_support import import_lava

PRECISIONS = {"fixed": "fixed_pt", "float": "floating_pt"}


def _dense_weights(layer_syn) -> np.ndarray:
    # Lava's fixed-point Dense drops the LSB of mixed-sign 8-bit weights: pass 2q and shift back
    # by weight_exp = -1 (exact, 2q fits [-254, 254])
    return 2 * layer_syn.weights.mantissa.astype(np.int64)


def _uniform_shift(syn, what: str) -> int:
    shift = np.unique(np.asarray(syn.shift))
    if shift.size != 1:
        raise HardwareError(f"{what}: per-neuron weight exponents need one Dense per exponent")
    return int(shift[0])


def _no_recurrent_lif(has_rec: bool) -> None:
    if has_rec:
        raise HardwareError(
            "recurrent LIF layers are not supported on Lava yet (LIFReset leaks the recurrent"
            " input across samples); use an SRC-family layer or a feed-forward LIF"
        )


def _lif_fixed(layer: IntLayer, period: int, offset: int):
    """``LIFReset`` (bit-accurate) for an integer LIF/CubaLIF layer; returns (process, weight_exp)."""
    from lava.proc.lif.process import LIFReset

    _no_recurrent_lif(layer.recurrent is not None)
    p = layer.params
    lb = np.asarray(layer.bias, dtype=np.int64)
    if np.any(lb != 0):
        if layer.kind != "lif" or np.any(np.asarray(p.bias) != 0):
            raise HardwareError("a LIF input bias can only be mapped for plain LIF without v bias")
        bias_mant, bias_exp = lb, 6  # du=4095: u = a_in << 6 is added to v once, as the bias is
    else:
        bias_mant, bias_exp = np.asarray(p.bias, dtype=np.int64), 0
    n = layer.n
    cell = LIFReset(
        shape=(n,),
        du=np.broadcast_to(np.asarray(p.du), (n,)).astype(np.int32),
        dv=np.broadcast_to(np.asarray(p.dv), (n,)).astype(np.int32),
        vth=np.broadcast_to(np.asarray(p.vth), (n,)).astype(np.int32),
        bias_mant=np.broadcast_to(bias_mant, (n,)).astype(np.int32),
        bias_exp=np.full(n, bias_exp, dtype=np.int32),
        reset_interval=period,
        reset_offset=offset % period,
    )
    # 2q << (shift - 1) == q << shift, or (2q) >> 1 for shift 0
    return cell, _uniform_shift(layer.synapse, f"layer {layer.kind}") - 1


def _lif_float(spec, period: int, offset: int):
    """``LIFReset`` (floating_pt) for a float LIF/CubaLIF layer; returns (process, Dense weights).

    Lava: ``u = u*(1-du) + a``; ``v = v*(1-dv) + u + bias``; spike ``v > vth``, ``v = 0``. The
    NetSpec LIF ``v = beta*v + gain*(W s + b) + leak`` maps to ``du = 1``, ``dv = 1 - beta``,
    ``bias = gain*b + leak`` and Dense weights ``gain*W``; CubaLIF to ``du = 1 - alpha`` and
    weights ``gain*gain_syn*W``.
    """
    from lava.proc.lif.process import LIFReset

    _no_recurrent_lif(spec.rec_weight is not None)
    p = spec.params
    if np.any(np.asarray(p["v_reset"]) != 0):
        raise HardwareError(f"{spec.name}: Lava's LIF resets to 0; v_reset must be 0")
    n, b = spec.n, np.zeros(spec.n) if spec.bias is None else np.asarray(spec.bias)
    gain = np.asarray(p["gain"], dtype=np.float64)
    if spec.kind == "lif":
        du, scale, bias = np.ones(n), gain, gain * b + np.asarray(p["leak"])
    else:
        if np.any(b != 0):
            raise HardwareError(f"{spec.name}: a CubaLIF synapse bias has no Lava LIF mapping")
        du = 1.0 - np.asarray(p["alpha"])
        scale, bias = gain * np.asarray(p["gain_syn"]), np.asarray(p["leak"])
    cell = LIFReset(
        shape=(n,),
        du=du,
        dv=1.0 - np.asarray(p["beta"]),
        vth=np.asarray(p["threshold"], dtype=np.float64),
        bias_mant=bias.astype(np.float64),
        bias_exp=np.zeros(n),
        reset_interval=period,
        reset_offset=offset % period,
    )
    return cell, scale[:, None] * np.asarray(spec.weight, dtype=np.float64)


class _Layer(NamedTuple):  # not a dataclass: Lava imports this file outside sys.modules
    cell: object
    sink: object
    counter: object
    mod: object


class LavaGraph:
    """The process graph of one network (see the module docstring); ``run`` / ``stop`` it.

    ``columns``: length of the source ring buffers (every sample back to back, or one period for
    a closed loop). ``count_samples``: attach a :class:`CountSink` per layer for that many
    samples. ``record``: attach raster sinks of ``columns`` steps.
    """

    def __init__(
        self,
        net,
        precision: str,
        period: int,
        window: int,
        columns: int,
        reset: bool = True,
        modulated: bool = False,
        graded_input: bool = False,
        count_samples: int | None = None,
        record: bool = False,
    ):
        import_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        from modspike.hw import src_models  # noqa: F401  (registers our process models)
        from modspike.hw.src_process import CountSink, SRCLayer

        if precision not in PRECISIONS:
            raise HardwareError(f"unknown precision {precision!r}; use fixed or float")
        fixed = precision == "fixed"
        if fixed and not isinstance(net, IntNetwork):
            raise HardwareError("fixed precision runs an IntNetwork (the artifact's integer model)")
        layers = net.layers
        n_in = layers[0].n_in
        dtype = np.int32 if fixed else np.float64
        self.source = Source(data=np.zeros((n_in, columns), dtype=dtype))
        self.layers: list[_Layer] = []
        prev_port, prev_graded = self.source.s_out, graded_input
        for k, layer in enumerate(layers, start=1):
            kind = layer.kind
            first = 1 + k
            rec_w = None
            if kind in LIF_KINDS:
                if not reset:
                    raise HardwareError("LIF layers cannot hold state between windows (LIFReset)")
                if fixed:
                    cell, w_exp = _lif_fixed(layer, period, first)
                    weights = _dense_weights(layer.synapse)
                else:
                    cell, weights = _lif_float(layer, period, first)
                    w_exp = 0
            elif kind in SRC_KINDS:
                cell = SRCLayer(
                    n=layer.n,
                    layer=layer if fixed else None,
                    spec=None if fixed else layer,
                    period=period,
                    window=window,
                    first=first,
                    reset=reset,
                    modulated=modulated,
                )
                if fixed:
                    weights, w_exp = _dense_weights(layer.synapse), -1  # SRCLayer shifts itself
                    if layer.recurrent is not None:
                        rec_w = _dense_weights(layer.recurrent)
                else:
                    weights, w_exp = np.asarray(layer.weight, dtype=np.float64), 0
                    if layer.rec_weight is not None:
                        rec_w = np.asarray(layer.rec_weight, dtype=np.float64)
            else:
                raise HardwareError(f"layer {k}: cell {kind!r} has no Lava mapping")
            if rec_w is not None:
                rec = Dense(weights=rec_w, weight_exp=-1 if fixed else 0, num_message_bits=24)
                cell.s_out.connect(rec.s_in)
                rec.a_out.connect(cell.r_in)
            dense = Dense(
                weights=weights, weight_exp=w_exp, num_message_bits=24 if prev_graded else 0
            )
            prev_port.connect(dense.s_in)
            dense.a_out.connect(cell.a_in)
            mod = None
            if modulated:
                if kind not in SRC_KINDS:
                    raise HardwareError(f"layer {k}: only SRC-family layers take modulation")
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
            prev_port, prev_graded = cell.s_out, kind in SRC_KINDS
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
    steps, batch, n_in = spikes.shape
    if n_in != net.layers[0].n_in:
        raise HardwareError(f"input spikes must have {net.layers[0].n_in} channels, got {n_in}")
    period, n_layers = steps + 1, len(net.layers)
    total = batch * period + n_layers
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
    )
    # column c is sent on Lava step c + 1; layer k reads its input (through a Dense) and its
    # modulation (directly) on step s*period + 1 + k + t, i.e. modulation column s*period + t + k
    data = _to_columns(spikes, period, 0, total)
    graph.source.data.init = data.astype(graph.source.data.init.dtype)
    for k, (layer, mod) in enumerate(zip(graph.layers, modulation or [None] * n_layers), 1):
        if modulated:
            if mod is not None:
                m = _to_columns(np.stack([np.asarray(f) for f in mod], axis=2), period, k, total)
            else:  # identity: gain 1, no offsets
                m = np.zeros(layer.mod.data.shape)
                m[0] = 1.0 if precision == "float" else (1 << net.layers[k - 1].params.frac_bits)
            layer.mod.data.init = m.astype(layer.mod.data.init.dtype)
    config = {
        "backend": "lava",
        "period": period,
        "lava_steps": total,
        "select_tag": PRECISIONS[precision],
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
    if recorded is not None:  # layer k's step t of sample s lands in column s*period + t + k
        rasters = [
            _from_columns(rec, steps, batch, period, k) for k, rec in enumerate(recorded, start=1)
        ]
    config["seconds_per_step"] = seconds / max(total - 1, 1)
    return rasters, totals, events, seconds, config


class LavaSession:
    """A network kept running on Lava for a closed loop, one environment step at a time.

    Each :meth:`advance` sends ``window`` steps of input (and modulation) for a batch of one,
    runs one period (``window + layers`` Lava steps, so the last layer has finished), and returns
    the last layer's outputs of those ``window`` steps. Layers hold their state between calls, as
    :meth:`IntNetwork.steps` does. Use as a context manager: the runtime is always stopped.
    """

    def __init__(self, net, window: int, precision: str = "fixed", graded_input: bool = True):
        self.window = window
        self.n_layers = len(net.layers)
        self.period = window + self.n_layers
        self.graph = LavaGraph(
            net,
            precision,
            self.period,
            window,
            self.period,
            reset=False,
            modulated=True,
            graded_input=graded_input,
            record=True,
        )

    def __enter__(self) -> LavaSession:
        return self

    def __exit__(self, *exc) -> None:
        self.graph.stop()

    def _set(self, var, value: np.ndarray) -> None:
        value = value.astype(var.init.dtype)
        if self.graph.steps_done:
            var.set(value)
        else:
            var.init = value

    def advance(self, inputs: np.ndarray, modulation: list) -> np.ndarray:
        """``inputs`` (window, n_in); ``modulation[k]`` a ``(gain, bias, hs0)`` triple of (n_k,)
        arrays held over the window; returns the last layer's outputs ``(window, n_last)``."""
        w, p = self.window, self.period
        data = np.zeros((inputs.shape[1], p))
        data[:, :w] = np.asarray(inputs).T
        self._set(self.graph.source.data, data)
        for k, (layer, mod) in enumerate(zip(self.graph.layers, modulation), start=1):
            m = np.zeros((3, len(mod[0]), p))
            m[:, :, k : k + w] = np.stack([np.asarray(f) for f in mod])[:, :, None]
            self._set(layer.mod.data, m)
        self.graph.run(p)
        rec = np.asarray(self.graph.layers[-1].sink.data.get())
        return rec[:, self.n_layers : self.n_layers + w].T
