"""``sim``: the batched integer simulator, the network's FIXED program (:mod:`modspike.step`)
with the kinds' compiled steps (:mod:`modspike.compiled`; a kind without one runs its numpy step).

The batch is cut into pieces of at most ``MAX_PIECE`` samples run on up to ``threads`` threads
(the compiled steps and numpy's array operations release the GIL, so pieces run on separate
cores; BLAS is held to one thread inside, the pieces being the parallelism); the arithmetic per
sample is unchanged, so the result does not depend on the split.

Outputs are compact: each layer's raster is kept in the smallest integer dtype that holds the
values it received (int8 for spikes, int16 for 12-bit graded outputs), written step by step, and
per-sample totals and event counts are accumulated on the fly, so ``record=False`` keeps no
raster at all (``compact_bytes`` gives the memory per sample of either form).
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from modspike.compiled import accelerate, compiled_layers, numba_available
from modspike.network import Network
from modspike.step import Precision, Program, compile, run

from . import Backend, SimResult, register

MIN_THREAD_BATCH = 256  # below this a thread's share is too small to gain from a second core
MAX_PIECE = 1024  # larger pieces fall out of the cache: (1024, 64) int64 is 0.5 MB per array
INT_DTYPES = (np.int8, np.int16, np.int32, np.int64)


def smallest_int_dtype(lo: int, hi: int) -> np.dtype:
    """The narrowest signed integer dtype holding every value in ``[lo, hi]``."""
    for dt in INT_DTYPES:
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    raise OverflowError(f"values in [{lo}, {hi}] do not fit 64 bits")


def count_dtype(steps: int) -> np.dtype:
    """The narrowest unsigned dtype that counts up to ``steps`` events per sample and neuron."""
    return np.dtype(np.min_scalar_type(max(int(steps), 1)))


class FixedRun(NamedTuple):
    rasters: list[np.ndarray] | None  # per layer (T, batch, n), compact dtype; None unrecorded
    totals: list[np.ndarray]  # per layer (batch, n) int64: outputs summed over time
    events: list[np.ndarray]  # per layer (batch, n): non-zero outputs, count_dtype(T)
    threads: int
    compiled: list[str]  # the layers that ran a compiled step


class _Recorder:
    """The ``probe`` of :func:`modspike.step.run`: per layer the outputs of every step written into
    a compact raster (widened when a step's values need it) and the running totals and counts."""

    def __init__(self, prog: Program, steps: int, batch: int, record: bool):
        shapes = [(batch, L.n) for L in prog.layers]
        self.totals = [np.zeros(s, np.int64) for s in shapes]
        self.events = [np.zeros(s, count_dtype(steps)) for s in shapes]
        self.rasters = [np.zeros((steps, *s), np.int8) for s in shapes] if record else None
        self.count = None
        if numba_available():
            from modspike.kernels import count

            self.count = count

    def __call__(self, t: int, k: int, layer_state) -> None:
        s = layer_state[0]
        if self.count is not None and s.dtype == np.int64 and s.flags.c_contiguous:
            self.count(s, self.totals[k], self.events[k])  # one pass (numba)
        else:
            self.totals[k] += s
            self.events[k] += s != 0
        if self.rasters is not None:
            raster = self.rasters[k]
            lo, hi = int(s.min(initial=0)), int(s.max(initial=0))
            info = np.iinfo(raster.dtype)
            if lo < info.min or hi > info.max:
                wider = np.promote_types(raster.dtype, smallest_int_dtype(lo, hi))
                raster = self.rasters[k] = raster.astype(wider)
            raster[t] = s


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return None
    return ThreadpoolController()  # finds the loaded BLAS libraries once (a few ms)


@contextlib.contextmanager
def _one_library_thread():
    """BLAS and torch's own threads held to one (the batch pieces are the parallelism; a second
    library thread per small GEMM costs more than it gives, badly so on a loaded machine; the
    dense synapses' int8 GEMMs run in torch)."""
    import torch

    controller = _blas_controller()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with (
            controller.limit(limits=1, user_api="blas") if controller else contextlib.nullcontext()
        ):
            yield
    finally:
        torch.set_num_threads(before)


def _piece(prog, spikes: np.ndarray, modulation, lo: int, hi: int, record: bool) -> _Recorder:
    mod = None
    if modulation is not None:
        mod = [None if m is None else type(m)(*(f[:, lo:hi] for f in m)) for m in modulation]
    rec = _Recorder(prog, spikes.shape[0], hi - lo, record)
    run(prog, spikes[:, lo:hi], modulation=mod, record=False, probe=rec, total=False)
    return rec


def _join(parts: list[list[np.ndarray]], axis: int) -> list[np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate(layer, axis=axis) for layer in zip(*parts)]


def simulate_fixed(
    net: Network,
    spikes: np.ndarray,
    modulation=None,
    threads: int | None = None,
    record: bool = True,
    compiled: bool = True,
) -> FixedRun:
    """The network's FIXED program from rest over ``spikes`` (T, batch, ...), compact outputs.

    ``compiled=False`` runs the numpy reference steps only (the benchmark's baseline)."""
    prog = compile(net, Precision.FIXED)
    if compiled:
        prog = accelerate(prog, net)
    batch = spikes.shape[1]
    threads = max(1, min(threads or os.cpu_count() or 1, 8, batch // MIN_THREAD_BATCH))
    pieces = max(threads, -(-batch // MAX_PIECE))
    bounds = np.linspace(0, batch, pieces + 1).astype(int)
    spans = list(zip(bounds[:-1], bounds[1:]))

    def one(span):
        return _piece(prog, spikes, modulation, *span, record)

    with _one_library_thread():
        if threads == 1:
            parts = [one(span) for span in spans]
        else:
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(one, spans))
    rasters = _join([p.rasters for p in parts], axis=1) if record else None
    totals = _join([p.totals for p in parts], axis=0)
    events = _join([p.events for p in parts], axis=0)
    return FixedRun(rasters, totals, events, threads, compiled_layers(prog))


def run_sim(net: Network, spikes: np.ndarray, modulation=None, threads: int | None = None):
    """``(rasters, threads used)``: the network's FIXED program from rest over ``spikes``."""
    out = simulate_fixed(net, spikes, modulation, threads)
    return out.rasters, out.threads


def compact_bytes(out: FixedRun) -> dict:
    """Bytes per sample of a run's outputs: the rasters (when recorded) and the counts."""
    batch = max(int(out.totals[0].shape[0]), 1)
    counts = sum(a.nbytes for a in out.totals + out.events) / batch
    rasters = None if out.rasters is None else sum(r.nbytes for r in out.rasters) / batch
    return {"rasters": rasters, "counts": counts}


def _run(net: Network, spikes, record=True, modulation=None, progress=False) -> SimResult:
    t0 = time.perf_counter()
    out = simulate_fixed(net, spikes, modulation, record=record)
    seconds = time.perf_counter() - t0
    logits = compile(net, Precision.FIXED).readout(out.totals[-1], spikes.shape[0])
    config = {
        "backend": "sim",
        "threads": out.threads,
        "compiled_layers": out.compiled,
        "bytes_per_sample": compact_bytes(out),
    }
    return SimResult(logits, out.rasters, out.totals, out.events, seconds, config)


SIM = register(Backend("sim", "fixed", _run, description="the bit-exact integer simulator"))
