"""Cell kinds that Lava runs with a neuron of its own, by kind name: ``(fixed, floating)``
builders, each ``(layer, period, offset) -> (process, Delivery)`` (what its synapse process
must deliver, :mod:`modspike.hw.lava.synapses`), and a check ``fits(layer, fixed)`` of whether
the layer's arithmetic is that neuron's. Every other kind with a step, and every layer that does
not fit (another tool's reset or firing rule, a CubaLIF synapse bias, a recurrence), runs in
modspike's generic ``StepLayer`` (hw/lava/procs)."""

from __future__ import annotations

from collections.abc import Callable

from . import lif

NATIVE: dict[str, tuple[Callable, Callable, Callable]] = {
    "lif": (lif.fixed, lif.floating, lif.fits),
    "cubalif": (lif.fixed, lif.floating, lif.fits),
}


def native(kind, layer=None, fixed: bool = True) -> tuple[Callable, Callable] | None:
    """The native Lava mapping of a cell kind, or None; with ``layer``, None also when that
    layer does not fit the native neuron (``fixed``: for ``fixed_pt``, else ``floating_pt``)."""
    found = NATIVE.get(kind.name)
    if found is None or (layer is not None and not found[2](layer, fixed)):
        return None
    return found[0], found[1]
