"""One entry point for running an :class:`IntNetwork`: our numpy simulator or Lava's CPU simulator.

Both return the same :class:`SimResult`; the rasters are in the network's own time (step ``t`` of
each sample), so ``sim`` and ``lava`` compare element for element (``docs/hardware.md``).
"""

import time
from dataclasses import dataclass, field

import numpy as np
from modspike.errors import HardwareError
from modspike.fxpnet import IntNetwork

BACKENDS = ("sim", "lava", "loihi2")


@dataclass
class SimResult:
    logits: np.ndarray  # (batch, n_out) float64
    rasters: list[np.ndarray]  # per layer, int64 (T, batch, n)
    seconds: float  # simulation only (no graph building, no read-back)
    config: dict = field(default_factory=dict)


def _logits(net: IntNetwork, last: np.ndarray) -> np.ndarray:
    total = last.sum(axis=0)
    if net.readout is not None:
        return net.readout.logits(total)
    return total.astype(np.float64) * 2.0 ** net.layers[-1].out_exp


def simulate(
    net: IntNetwork, spikes: np.ndarray, backend: str = "sim", progress: bool = False
) -> SimResult:
    """Run input ``spikes`` (T, batch, n_in) of 0/1 on ``backend`` ("sim", "lava" or "loihi2")."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 3 or spikes.shape[2] != net.n_in:
        raise HardwareError(
            f"input spikes must have shape (T, batch, {net.n_in}), got {spikes.shape}"
        )
    if backend == "sim":
        t0 = time.perf_counter()
        _, rasters = net.run(spikes, record=True)
        seconds = time.perf_counter() - t0
        config = {"backend": "sim"}
    elif backend == "lava":
        from modspike.hw.lava_net import run_lava

        rasters, seconds, config = run_lava(net, spikes)
    elif backend == "loihi2":
        from modspike.hw.lava_support import require_loihi2

        require_loihi2()
        raise HardwareError("--backend loihi2: the Loihi 2 mapping is not written yet")
    else:
        raise HardwareError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    rasters = [np.asarray(r, dtype=np.int64) for r in rasters]
    config.update(steps=int(spikes.shape[0]), samples=int(spikes.shape[1]))
    return SimResult(_logits(net, rasters[-1]), rasters, float(seconds), config)
