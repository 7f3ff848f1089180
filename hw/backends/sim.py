"""``sim``: the batched integer simulator, the network's FIXED program (:mod:`modspike.step`).

The batch is cut into pieces of at most ``MAX_PIECE`` samples run on up to ``threads`` threads
(numpy releases the GIL inside its array operations, so pieces run on separate cores); the
arithmetic per sample is unchanged, so the result does not depend on the split.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from modspike.network import Network
from modspike.step import Precision, compile, run

from . import Backend, SimResult, register

MIN_THREAD_BATCH = 256  # below this a thread's share is too small to gain from a second core
MAX_PIECE = 1024  # larger pieces fall out of the cache: (1024, 64) int64 is 0.5 MB per array


def _piece(prog, spikes: np.ndarray, modulation, lo: int, hi: int):
    mod = None
    if modulation is not None:
        mod = [None if m is None else type(m)(*(f[:, lo:hi] for f in m)) for m in modulation]
    return run(prog, spikes[:, lo:hi], modulation=mod).records


def run_sim(net: Network, spikes: np.ndarray, modulation=None, threads: int | None = None):
    """``(rasters, threads used)``: the network's FIXED program from rest over ``spikes``."""
    prog = compile(net, Precision.FIXED)
    batch = spikes.shape[1]
    threads = max(1, min(threads or os.cpu_count() or 1, 8, batch // MIN_THREAD_BATCH))
    pieces = max(threads, -(-batch // MAX_PIECE))
    bounds = np.linspace(0, batch, pieces + 1).astype(int)
    spans = list(zip(bounds[:-1], bounds[1:]))
    if threads == 1:
        results = [_piece(prog, spikes, modulation, lo, hi) for lo, hi in spans]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda lh: _piece(prog, spikes, modulation, *lh), spans))
    if len(results) == 1:
        return results[0], threads
    return [np.concatenate(layer, axis=1) for layer in zip(*results)], threads


def _run(net: Network, spikes, record=True, modulation=None, progress=False) -> SimResult:
    t0 = time.perf_counter()
    rasters, used = run_sim(net, spikes, modulation)
    seconds = time.perf_counter() - t0
    totals = [r.sum(axis=0) for r in rasters]
    events = [(r != 0).sum(axis=0) for r in rasters]
    logits = compile(net, Precision.FIXED).readout(totals[-1], spikes.shape[0])
    return SimResult(logits, rasters, totals, events, seconds, {"backend": "sim", "threads": used})


SIM = register(Backend("sim", "fixed", _run, description="the bit-exact integer simulator"))
