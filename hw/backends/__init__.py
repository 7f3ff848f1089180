"""Backends that run a :class:`~modspike.network.Network`: ``torch`` (float), ``sim`` (our
bit-exact integer simulator), ``sim-torch`` (the same on torch tensors, GPU when available), ``lava`` (Lava ``fixed_pt``), ``lava-float`` (Lava
``floating_pt``) and ``loihi2`` (needs Intel's extension). Each is a registered
:class:`Backend`; the CLI reads the names from here.

Every backend returns the same :class:`SimResult`; the rasters are in the network's own time
(step ``t`` of each sample), so ``sim`` and ``lava`` compare element for element
(``docs/hardware.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from modspike.errors import HardwareError
from modspike.network import Network


@dataclass
class SimResult:
    logits: np.ndarray  # (batch, n_out) float64
    rasters: list[np.ndarray] | None  # per layer (T, batch, n); None when not recorded
    totals: list[np.ndarray]  # per layer, per sample: sum of the outputs over time (batch, n)
    events: list[np.ndarray]  # per layer, per sample: number of non-zero outputs (batch, n)
    seconds: float  # simulation only (no graph building, no read-back)
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Backend:
    """``run(net, spikes, record, modulation, progress) -> SimResult``; ``precision``: which form
    of the network it runs (``float`` parameters or the ``fixed`` integer model); ``one_run``:
    whether all samples should go in one call (start-up paid once)."""

    name: str
    precision: str
    run: Callable
    one_run: bool = False
    description: str = ""


_BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    _BACKENDS[backend.name] = backend
    return backend


def _load() -> None:
    # every module, always: importing one backend module directly registers that one alone
    from . import lava, loihi2, sim, sim_torch, torch  # noqa: F401  (each registers itself)


def names() -> list[str]:
    _load()
    return list(_BACKENDS)


def backend(name: str) -> Backend:
    _load()
    if name not in _BACKENDS:
        raise HardwareError(f"unknown backend {name!r}; choose one of {', '.join(_BACKENDS)}")
    return _BACKENDS[name]


def check_input(net: Network, spikes: np.ndarray) -> np.ndarray:
    spikes = np.asarray(spikes)
    if spikes.ndim < 3 or int(np.prod(spikes.shape[2:])) != net.n_in:
        raise HardwareError(
            f"input spikes must have shape (T, batch, {net.n_in}), got {spikes.shape}"
        )
    return spikes


def simulate(
    net: Network,
    spikes: np.ndarray,
    backend_name: str = "sim",
    progress: bool = False,
    record: bool = True,
    modulation=None,
) -> SimResult:
    """Run input ``spikes`` (T, batch, ...) on a backend. ``record=False`` skips the rasters (Lava
    reads back only per-sample totals then). ``modulation``: per layer ``None`` or a
    :class:`~modspike.modulation.Modulation` of (T, batch, n) arrays."""
    chosen = backend(backend_name)
    spikes = check_input(net, spikes)
    if chosen.precision == "fixed" and not net.quantized:
        raise HardwareError(f"--backend {backend_name} runs the artifact's integer model")
    result = chosen.run(net, spikes, record=record, modulation=modulation, progress=progress)
    if not record:
        result.rasters = None
    result.config.update(steps=int(spikes.shape[0]), samples=int(spikes.shape[1]))
    return result
