"""One entry point for running an artifact's network: our simulator or Lava's CPU simulator.

Every backend returns the same :class:`SimResult`; the rasters are in the network's own time (step
``t`` of each sample), so ``sim`` and ``lava`` compare element for element (``docs/hardware.md``).
``sim`` and ``lava`` run the integer :class:`IntNetwork`; ``lava-float`` runs the float
:class:`NetSpec` on Lava's ``floating_pt`` models (to compare with the float torch model).
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from modspike.errors import HardwareError
from modspike.fxpnet import IntNetwork

BACKENDS = ("sim", "lava", "lava-float", "loihi2")


@dataclass
class SimResult:
    logits: np.ndarray  # (batch, n_out) float64
    rasters: list[np.ndarray] | None  # per layer (T, batch, n); None when not recorded
    totals: list[np.ndarray]  # per layer, per sample: sum of the outputs over time (batch, n)
    events: list[np.ndarray]  # per layer, per sample: number of non-zero outputs (batch, n)
    seconds: float  # simulation only (no graph building, no read-back)
    config: dict = field(default_factory=dict)


def float_logits(spec, total: np.ndarray, steps: int) -> np.ndarray:
    """The float readout of a :class:`NetSpec` applied to the time-summed last-layer output, as
    ``export.runner.ChainNet`` computes it."""
    if spec.readout is None:
        return total.astype(np.float64)
    bias = 0.0 if spec.readout_bias is None else np.asarray(spec.readout_bias)
    reps = 1 if spec.sum_over_time else steps
    return total @ np.asarray(spec.readout, dtype=np.float64).T + reps * bias


MIN_THREAD_BATCH = 256  # below this a thread's share is too small to gain from a second core
MAX_PIECE = 1024  # larger pieces fall out of the cache: (1024, 64) int64 is 0.5 MB per array


def _sim_part(net: IntNetwork, spikes: np.ndarray, modulation, lo: int, hi: int):
    mod = None
    if modulation is not None:
        mod = [None if m is None else type(m)(*(f[:, lo:hi] for f in m)) for m in modulation]
    rasters, _ = net.steps(spikes[:, lo:hi], net.initial_state(hi - lo), mod)
    return rasters


def run_sim(net: IntNetwork, spikes: np.ndarray, modulation=None, threads: int | None = None):
    """``(rasters, threads used)``: ``IntNetwork.steps`` from zero state, the batch cut into
    pieces of at most ``MAX_PIECE`` samples run on up to ``threads`` threads (numpy releases the
    GIL inside its array operations, so pieces run on separate cores). The arithmetic per sample
    is unchanged, so the result does not depend on the split."""
    batch = spikes.shape[1]
    threads = max(1, min(threads or os.cpu_count() or 1, 8, batch // MIN_THREAD_BATCH))
    pieces = max(threads, -(-batch // MAX_PIECE))
    bounds = np.linspace(0, batch, pieces + 1).astype(int)
    spans = list(zip(bounds[:-1], bounds[1:]))
    if threads == 1:
        results = [_sim_part(net, spikes, modulation, lo, hi) for lo, hi in spans]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda lh: _sim_part(net, spikes, modulation, *lh), spans))
    if len(results) == 1:
        return results[0], threads
    return [np.concatenate(layer, axis=1) for layer in zip(*results)], threads


def simulate(
    net,
    spikes: np.ndarray,
    backend: str = "sim",
    progress: bool = False,
    record: bool = True,
    modulation=None,
) -> SimResult:
    """Run input ``spikes`` (T, batch, n_in) on ``backend`` ("sim", "lava", "lava-float" with a
    NetSpec, or "loihi2"). ``record=False`` skips the rasters (Lava reads back only per-sample
    totals then). ``modulation``: per layer ``None`` or an ``IntModulation`` (gain, bias, hs0) of
    (T, batch, n) arrays."""
    spikes = np.asarray(spikes)
    n_in = net.layers[0].n_in
    if spikes.ndim != 3 or spikes.shape[2] != n_in:
        raise HardwareError(f"input spikes must have shape (T, batch, {n_in}), got {spikes.shape}")
    if backend in ("sim", "lava") and not isinstance(net, IntNetwork):
        raise HardwareError(f"--backend {backend} runs the artifact's integer model")
    if backend == "sim":
        t0 = time.perf_counter()
        rasters, used = run_sim(net, spikes, modulation)
        seconds = time.perf_counter() - t0
        totals = [r.sum(axis=0) for r in rasters]
        events = [(r != 0).sum(axis=0) for r in rasters]
        config = {"backend": "sim", "threads": used}
    elif backend in ("lava", "lava-float"):
        from modspike.hw.lava_net import run_lava

        precision = "fixed" if backend == "lava" else "float"
        rasters, totals, events, seconds, config = run_lava(
            net, spikes, precision=precision, record=record, modulation=modulation
        )
        config["backend"] = backend
    elif backend == "loihi2":
        from modspike.hw.lava_support import require_loihi2

        require_loihi2()
        raise HardwareError("--backend loihi2: the Loihi 2 mapping is not written yet")
    else:
        raise HardwareError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "lava-float":
        logits = float_logits(net, totals[-1], spikes.shape[0])
    else:
        totals = [np.asarray(t, dtype=np.int64) for t in totals]
        logits = net.logits(totals[-1])
    if not record:
        rasters = None
    config.update(steps=int(spikes.shape[0]), samples=int(spikes.shape[1]))
    return SimResult(logits, rasters, totals, events, float(seconds), config)
