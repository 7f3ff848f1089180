"""The tools that write NIR files, and what their files leave unsaid (docs/nir-producers.md).

A NIR file does not say who wrote it, nor its time step, reset or firing rule, and each library
means its own discrete update by the numbers it writes. ``modspike import-nir`` / ``export FILE.nir``
take ``--producer`` (default ``nir``: NIR's own forward-Euler reading) and read every neuron node
as that producer runs it. A :class:`Producer` holds what is common to the producer's files (its
exporter's time step, the resets its neurons may use, the cell kind that runs a node where the
claiming kind cannot, e.g. Sinabs' spike counts); how each node's numbers become discrete-time
parameters is the business of the cell kinds' NIR codecs (``NirCodec.read_foreign``), one reader
per producer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from modspike.errors import NIRError

NIR = "nir"


@dataclass(frozen=True)
class Producer:
    """``dt``: the step its exporter assumes (None: none; modspike's default 1e-4 applies);
    ``resets``: the reset modes its neurons may use, the default first; ``kinds``: NIR node class
    name -> the cell kind that runs it, where the claiming kind cannot; ``infer_dt(cells)`` -> the
    step recovered from the file's neuron nodes, or None."""

    name: str
    dt: float | None
    resets: tuple[str, ...]
    summary: str
    kinds: Mapping[str, str] = field(default_factory=dict)
    infer_dt: Callable | None = None

    @property
    def plain(self) -> bool:
        """NIR's own meaning (no other tool's conventions)."""
        return self.name == NIR


@dataclass(frozen=True)
class Reading:
    """How to read one file's neuron nodes: the producer, the resolved time step and reset."""

    producer: str
    dt: float
    reset: str

    @property
    def plain(self) -> bool:
        """NIR's own meaning (no producer given)."""
        return self.producer == NIR


def _rockpool_dt(cells) -> float | None:
    """Rockpool writes ``r = tau_mem * exp(-dt/tau_mem) / dt``: ``x = dt/tau_mem`` solves
    ``r = exp(-x)/x`` (decreasing in x > 0), so dt follows from any CubaLIF node."""
    found = set()
    for node in cells:
        tau, r = getattr(node, "tau_mem", None), getattr(node, "r", None)
        if tau is None or r is None:
            continue
        tau = float(np.asarray(tau, dtype=np.float64).reshape(-1)[0])
        r = float(np.asarray(r, dtype=np.float64).reshape(-1)[0])
        if not (math.isfinite(tau) and math.isfinite(r) and tau > 0 and r > 0):
            continue
        lo, hi = 1e-12, 50.0  # exp(-x)/x from 1e12 down to 4e-24
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            if math.exp(-mid) / mid > r:
                lo = mid
            else:
                hi = mid
        found.add(float(f"{math.sqrt(lo * hi) * tau:.6g}"))
    return found.pop() if len(found) == 1 else None


PRODUCERS: dict[str, Producer] = {
    p.name: p
    for p in (
        Producer(NIR, None, ("zero",), "NIR's forward Euler at dt; reset to v_reset at once"),
        Producer(
            "snntorch",
            1e-4,
            ("subtract", "zero"),
            "snntorch 1.0: dt = 1e-4, beta = 1 - dt/tau; the reset mechanism is not in the file"
            " (subtract, the default, or zero: --reset) and acts one step late",
        ),
        Producer(
            "norse",
            1e-3,
            ("zero",),
            "Norse 1.1: dt = 1e-3 and the file's tau is dt * tau (per-step factor dt^2/tau);"
            " CubaLIF's current jumps by w_in * input before v; reset to 0 at once",
        ),
        Producer(
            "sinabs",
            1.0,
            ("subtract",),
            "Sinabs 2.0: tau in steps, exact exponential decay, MultiSpike counts floor(v/theta)"
            " and subtracts them",
            kinds={"LIF": "multispike", "IF": "multispike", "CubaLIF": "multispike"},
        ),
        Producer(
            "rockpool",
            1e-3,
            ("subtract",),
            "Rockpool 3.1 LIFTorch: exact exponentials at dt (recovered from r), the current jumps"
            " by the input then decays, spike counts floor(v/theta) subtracted",
            kinds={"CubaLIF": "multispike"},
            infer_dt=_rockpool_dt,
        ),
        Producer(
            "spikingjelly",
            1e-4,
            ("zero",),
            "SpikingJelly 2.0: NIR's forward Euler at dt = 1e-4, fires at v >= threshold",
        ),
        Producer(
            "spyx",
            1.0,
            ("subtract",),
            "Spyx 0.1: dt = 1, input gain 1 (r holds beta), the spike is read from the previous"
            " state (one step late per layer); CuBaLIF subtracts the threshold twice",
        ),
    )
}


def producer(name: str) -> Producer:
    try:
        return PRODUCERS[name]
    except (KeyError, TypeError):
        raise NIRError(f"unknown producer {name!r}; choose one of {', '.join(PRODUCERS)}") from None


def names() -> list[str]:
    return list(PRODUCERS)
