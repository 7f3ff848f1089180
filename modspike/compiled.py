"""The FIXED program with the kinds' compiled steps: what the simulator runs.

A cell kind may carry a compiled twin of its integer step (``FixedArith.compiled``: a numba
kernel in ``modspike/kinds/cells/<kind>/int_kernel.py``, one fused pass per neuron instead of
dozens of array passes). :func:`accelerate` swaps each layer's step of a FIXED program for it;
everything else (the drive, the modulation, the readout, the one time loop of
:func:`modspike.step.run`) is the program's own. The numpy step stays the readable reference:
``tests/test_compiled.py`` runs every registered kind that has a compiled step against it
(random recurrent networks, saturation, modulation) and checks that a kind without one falls back
to it. Without numba installed every layer runs its numpy step.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from .errors import ConfigError
from .step import CompiledLayer, Precision, Program


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


def accelerate(prog: Program) -> Program:
    """``prog`` (a FIXED program) with every layer whose kind has a compiled step running it."""
    if prog.precision is not Precision.FIXED:
        raise ConfigError(f"only a FIXED program has compiled steps, not {prog.precision}")
    layers = []
    for layer in prog.layers:
        step = compiled_step(layer)
        layers.append(layer if step is None else replace(layer, step=step))
    return replace(prog, layers=tuple(layers))


def compiled_layers(prog: Program) -> list[str]:
    """Names of the layers of ``prog`` that run a compiled step (for run configs and reports)."""
    return [L.name for L in prog.layers if L.step is not getattr(L.kind.fixed, "step", None)]
