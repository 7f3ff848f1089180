"""``torch``: the network's float dynamics (its FLOAT program, :mod:`modspike.step`)."""

from __future__ import annotations

import time

import numpy as np
import torch

from modspike.network import Network
from modspike.step import Precision, compile, run

from . import Backend, SimResult, register


def _run(net: Network, spikes, record=True, modulation=None, progress=False) -> SimResult:
    prog = compile(net, Precision.FLOAT)
    x = torch.as_tensor(np.asarray(spikes), dtype=torch.float32)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = run(prog, x, modulation=modulation)
        logits = prog.readout(out.total, x.shape[0])
    seconds = time.perf_counter() - t0
    rasters = [r.numpy() for r in out.records]
    totals = [r.sum(axis=0) for r in rasters]
    events = [(r != 0).sum(axis=0) for r in rasters]
    return SimResult(
        logits.numpy().astype(np.float64), rasters, totals, events, seconds, {"mode": "float"}
    )


TORCH = register(Backend("torch", "float", _run, description="float dynamics in torch"))
