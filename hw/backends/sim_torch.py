"""``sim-torch``: the network's FIXED program on torch int64 tensors, on a GPU when there is one
(otherwise the CPU), for large sweeps.

It is the same program as ``sim`` (:func:`modspike.step.fixed_layer` with its constants moved to
the device, the kinds' own integer steps, written once with :mod:`modspike.arrays`), so the two
agree bit for bit (``tests/test_sim_torch.py``, every kind with an integer model, on the CPU).
The synaptic sums are float64 GEMMs where every partial sum provably stays below 2**53 (exact),
integer ones otherwise (:func:`modspike.fixedpoint.int_matmul`). A layer whose cell kind or
synapse kind does not declare ``tensors`` runs on numpy (its compiled step where it has one),
its input and output crossing to and from the device: slower, still exact.

The device: ``MODSPIKE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ...) or, unset, ``cuda`` when
torch sees a GPU.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import torch

from modspike.arrays import is_tensor
from modspike.compiled import compiled_step
from modspike.errors import HardwareError
from modspike.network import Layer, Network
from modspike.registry import require
from modspike.step import CompiledLayer, Ops, Precision, Program, compile, fixed_layer, run

from . import Backend, SimResult, register
from .sim import count_dtype, smallest_int_dtype

TORCH_INT = {np.dtype(d): getattr(torch, np.dtype(d).name) for d in (np.int8, np.int16, np.int32)}
TORCH_INT[np.dtype(np.int64)] = torch.int64


def default_device() -> str:
    chosen = os.environ.get("MODSPIKE_DEVICE")
    if chosen:
        return chosen
    return "cuda" if torch.cuda.is_available() else "cpu"


def _numpy(value):
    return value.cpu().numpy() if is_tensor(value) else value


def _on_device(layer: Layer) -> bool:
    """Whether every kind of ``layer`` runs on tensors (its synapses' stages included)."""
    synapses = [layer.synapse] + ([] if layer.recurrent is None else [layer.recurrent])
    kinds = [s.kind for syn in synapses for s in (syn, *getattr(syn, "pre", ()))]
    fixed = require(layer.cell.kind, "fixed", f"layer {layer.name}")
    return fixed.tensors and all(kind.tensors for kind in kinds)


def _bridged(L: CompiledLayer, device) -> CompiledLayer:
    """A numpy layer inside a tensor program: its input and its modulation come back to the
    host, its output goes to the device."""
    step = compiled_step(L) or L.step

    def drive(x, prev):
        return L.drive(_numpy(x), None if prev is None else _numpy(prev))

    def run_step(a, state, p):
        out, state = step(a, state, p)
        return torch.as_tensor(out, device=device), state

    modulate = None
    if L.modulate is not None:

        def modulate(a, p, m):
            return L.modulate(a, p, type(m)(*(_numpy(f) for f in m)))

    return replace(L, drive=drive, step=run_step, modulate=modulate)


def torch_program(net: Network, device) -> Program:
    """The FIXED program of ``net`` on ``device``: the same layers as ``compile(net, FIXED)``."""
    if not net.quantized:
        raise HardwareError("--backend sim-torch runs the artifact's integer model")

    def to(value: np.ndarray):
        return torch.tensor(np.asarray(value, dtype=np.int64), device=device)

    layers = tuple(
        fixed_layer(layer, to) if _on_device(layer) else _bridged(fixed_layer(layer), device)
        for layer in net.layers
    )
    ops = Ops(
        input=lambda x: x.long(),
        add=lambda a, b: a + b,
        stack=torch.stack,
        zeros=lambda batch, n: torch.zeros((batch, n), dtype=torch.int64, device=device),
    )
    return Program(Precision.FIXED, layers, ops, None)


class _Recorder:
    """Per layer, on the device: totals, event counts and (``record``) a compact raster."""

    def __init__(self, prog: Program, steps: int, batch: int, record: bool, device):
        shapes = [(batch, L.n) for L in prog.layers]
        self.count = count_dtype(steps)
        wide = torch.int32 if self.count.itemsize <= 4 else torch.int64
        self.totals = [torch.zeros(s, dtype=torch.int64, device=device) for s in shapes]
        self.events = [torch.zeros(s, dtype=wide, device=device) for s in shapes]
        self.rasters = None
        if record:
            self.rasters = [
                torch.zeros((steps, *s), dtype=torch.int8, device=device) for s in shapes
            ]
        self.dtypes = [np.dtype(np.int8)] * len(shapes)

    def __call__(self, t: int, k: int, layer_state) -> None:
        s = layer_state[0]
        self.totals[k] += s
        self.events[k] += s != 0
        if self.rasters is not None:
            lo, hi = (int(s.min()), int(s.max())) if s.numel() else (0, 0)
            info = np.iinfo(self.dtypes[k])
            if lo < info.min or hi > info.max:
                self.dtypes[k] = np.promote_types(self.dtypes[k], smallest_int_dtype(lo, hi))
                self.rasters[k] = self.rasters[k].to(TORCH_INT[self.dtypes[k]])
            self.rasters[k][t] = s


def simulate_torch(
    net: Network, spikes: np.ndarray, modulation=None, record: bool = True, device=None
):
    """``(rasters or None, totals, events, seconds, device)`` of the FIXED program on tensors;
    arrays come back as numpy (rasters compact, events in :func:`.sim.count_dtype`)."""
    device = torch.device(device or default_device())
    prog = torch_program(net, device)
    x = torch.as_tensor(np.asarray(spikes), device=device)
    mods = None
    if modulation is not None:
        mods = [
            None
            if m is None
            else type(m)(*(torch.as_tensor(np.asarray(f), device=device) for f in m))
            for m in modulation
        ]
    rec = _Recorder(prog, x.shape[0], x.shape[1], record, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    run(prog, x, modulation=mods, record=False, probe=rec)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    totals = [t.cpu().numpy() for t in rec.totals]
    events = [e.cpu().numpy().astype(rec.count) for e in rec.events]
    rasters = None if rec.rasters is None else [r.cpu().numpy() for r in rec.rasters]
    return rasters, totals, events, seconds, str(device)


def _run(net: Network, spikes, record=True, modulation=None, progress=False) -> SimResult:
    rasters, totals, events, seconds, device = simulate_torch(net, spikes, modulation, record)
    logits = compile(net, Precision.FIXED).readout(totals[-1], spikes.shape[0])
    on_device = [layer.name for layer in net.layers if _on_device(layer)]
    config = {"backend": "sim-torch", "device": device, "layers_on_device": on_device}
    return SimResult(logits, rasters, totals, events, seconds, config)


SIM_TORCH = register(
    Backend(
        "sim-torch",
        "fixed",
        _run,
        description="the integer simulator on torch tensors (GPU when available)",
    )
)
