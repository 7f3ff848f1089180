"""Cell kinds that Lava runs with a neuron of its own, by kind name: ``(fixed, floating)``
builders, each ``(layer, period, offset) -> (process, Delivery)`` (what its synapse process
must deliver, :mod:`modspike.hw.lava.synapses`). Every
other kind with a step runs in modspike's generic ``StepLayer`` (hw/lava/procs)."""

from __future__ import annotations

from collections.abc import Callable

from . import lif

NATIVE: dict[str, tuple[Callable, Callable]] = {
    "lif": (lif.fixed, lif.floating),
    "cubalif": (lif.fixed, lif.floating),
}


def native(kind) -> tuple[Callable, Callable] | None:
    """The native Lava mapping of a cell kind, or None."""
    return NATIVE.get(kind.name)
