"""The FIXED program with the kinds' compiled parts: what the simulator runs.

A cell kind may carry a compiled twin of its integer step (``FixedArith.compiled``: a numba
kernel in ``modspike/kinds/cells/<kind>/int_kernel.py``, a few compiled loops instead of dozens
of array passes), and a synapse kind a faster exact accumulation (``SynapseKind.compiled``: for
dense synapses, int8 or float GEMMs exact by construction). :func:`accelerate` swaps them into a
FIXED program; everything else (the shifts and bias of the drive, the modulation, the readout,
the one time loop of :func:`modspike.step.run`) is the program's own. The numpy program stays the
readable reference: ``tests/test_compiled.py`` runs every registered kind that has a compiled
part against it (random recurrent networks, saturation, modulation) and checks that a kind
without one falls back to it. Without numba installed the cells run their numpy steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numpy as np

from .errors import ConfigError
from .network import Layer, Network
from .step import CompiledLayer, Precision, Program, fixed_shifts


@lru_cache(maxsize=1)
def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def compiled_step(layer: CompiledLayer):
    """The compiled step of a FIXED layer's kind bound to its parameters, or None (no compiled
    step for the kind, or no numba)."""
    arith = layer.kind.fixed
    if arith is None or arith.compiled is None or not numba_available():
        return None
    return arith.compiled(layer.params)


def _accumulation(synapse) -> tuple[Callable, bool]:
    """``(accumulate(x), compiled?)`` of a quantised synapse."""
    kind, mant, attrs = synapse.kind, synapse.fixed.mantissa, synapse.attrs
    if kind.compiled is not None:
        return kind.compiled(mant, attrs), True
    return (lambda x: kind.accumulate(x, mant, attrs)), False


def compiled_drive(layer: Layer, L: CompiledLayer) -> Callable | None:
    """The drive of ``L`` (the FIXED form of ``layer``) with its synapses' compiled
    accumulations and, with numba, ``from_accumulators`` fused into one pass
    (:func:`modspike.kernels.drive`: the same shifts, bias and recurrent sum as
    :func:`modspike.step.fixed_layer`); None when there is nothing to gain."""
    synapses = [layer.synapse] + ([] if layer.recurrent is None else [layer.recurrent])
    if any(getattr(syn, "pre", ()) for syn in synapses):
        return None  # stages before the synapse (pooling): the program's own drive
    ff, fast = _accumulation(layer.synapse)
    rec, rec_fast = (None, False) if layer.recurrent is None else _accumulation(layer.recurrent)
    if not numba_available():
        if not (fast or rec_fast):
            return None
        combine = L.from_accumulators

        def drive(x, prev):
            return combine(
                _int64(ff(x)), None if rec is None or prev is None else _int64(rec(prev))
            )

        return drive

    from .kernels import drive as fused
    from .kernels import shift_parts

    shift, rec_shift = fixed_shifts(layer)
    bias = np.ascontiguousarray(layer.cell.fixed.input_bias, dtype=np.int64)
    has_bias = bool(np.any(bias))
    per_neuron = all(c is None or np.shape(c) == (layer.n,) for c in (shift, rec_shift, bias))
    parts = shift_parts(shift) if per_neuron else None
    rec_parts = shift_parts(rec_shift) if per_neuron and rec_shift is not None else parts

    combine = L.from_accumulators

    def drive(x, prev):
        acc = ff(x)  # int64, or float holding the integers exactly (the kernel converts)
        has_rec = rec is not None and prev is not None
        racc = rec(prev) if has_rec else acc
        if not per_neuron or acc.ndim != 2 or acc.shape[1] != layer.n:
            # not one value per neuron: numpy
            return combine(_int64(acc), _int64(racc) if has_rec else None)
        return fused(acc, parts, bias, racc, rec_parts, has_bias, has_rec)

    return drive


def _int64(acc) -> np.ndarray:
    return np.asarray(acc, dtype=np.int64)


def accelerate(prog: Program, net: Network) -> Program:
    """``prog``, the FIXED program of ``net``, with the compiled steps and accumulations of the
    kinds that have them."""
    if prog.precision is not Precision.FIXED or len(prog.layers) != len(net.layers):
        raise ConfigError("accelerate() takes a network's FIXED program and the network")
    layers = []
    for layer, L in zip(net.layers, prog.layers):
        changes: dict = {}
        step = compiled_step(L)
        if step is not None:
            changes["step"] = step
        drive = compiled_drive(layer, L)
        if drive is not None:
            changes["drive"] = drive
        layers.append(replace(L, **changes) if changes else L)
    ops = prog.ops
    first = net.layers[0].synapse
    if layers[0].drive is not prog.layers[0].drive and first.kind.compiled is not None:
        # a compiled accumulation takes any integer input: the spikes stay uint8 (the
        # reference program widens every step's input to int64 first)
        ops = ops._replace(input=np.asarray)
    return replace(prog, layers=tuple(layers), ops=ops)


def compiled_layers(prog: Program) -> list[str]:
    """Names of the layers of ``prog`` that run a compiled step (for run configs and reports)."""
    return [L.name for L in prog.layers if L.step is not getattr(L.kind.fixed, "step", None)]
