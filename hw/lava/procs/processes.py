"""Lava Processes of modspike's own: a generic layer that runs a cell kind's step, and a
per-sample counting sink.

:class:`StepLayer` runs any cell kind that has no native Lava neuron (the SRC family, a plug-in
kind). Ports: ``a_in`` takes the feed-forward ``Dense`` accumulation, ``r_in`` the recurrent
``Dense``, ``mod_in`` a modulation signal ``(3, n)`` (gain, bias offset, ``h_s0`` offset; state
units in ``fixed_pt``, floats in ``floating_pt``), ``s_out`` sends the cell's output. The cell
state is one Var ``state`` of shape ``(fields, n)``, in the order of the kind's state NamedTuple.
The layer travels in ``proc_params`` (the network description's :class:`~modspike.network.Layer`),
so each model compiles it with the one definition of its precision (:mod:`modspike.step`).

Schedule (``docs/hardware.md``): the layer updates on ``window`` steps out of every ``period``,
starting at Lava step ``first``. Off-window steps either reset (``reset=True``: state zeroed,
zeros sent; samples run back to back) or hold (state kept, last output re-sent; a closed loop where
the host answers between windows).

:class:`CountSink` accumulates, per sample, the sum and the number of non-zero values of its input
over the window steps of the layer it listens to: ``n x samples`` numbers to read back instead of
``n x steps`` (``Var.get`` costs ~20 us per element).
"""

from __future__ import annotations

import numpy as np

from modspike.hw.lava.support import import_lava

import_lava()

from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402


def window_phase(time_step: int, first: int, period: int) -> int:
    """Position of Lava step ``time_step`` in its period, 0 at a window's first step."""
    return (time_step - first) % period


class StepLayer(AbstractProcess):
    """One layer of a cell kind run through its step function (see the module docstring)."""

    def __init__(
        self,
        *,
        layer,
        fields: int,
        period: int,
        window: int,
        first: int,
        reset: bool = True,
        modulated: bool = False,
        name: str | None = None,
    ):
        if not 0 < window <= period:
            raise ValueError(f"window {window} must be in 1..period ({period})")
        n = layer.n
        super().__init__(
            shape=(n,),
            layer=layer,
            period=int(period),
            window=int(window),
            first=int(first),
            reset=bool(reset),
            modulated=bool(modulated),
            name=name,
        )
        self.a_in = InPort(shape=(n * layer.cell.kind.in_multiplicity,))
        self.r_in = InPort(shape=(n * layer.cell.kind.in_multiplicity,))
        self.mod_in = InPort(shape=(3, n))
        self.s_out = OutPort(shape=(n,))
        self.state = Var(shape=(fields, n), init=np.zeros((fields, n)))
        self.output = Var(shape=(n,), init=np.zeros(n))


class CountSink(AbstractProcess):
    """Per-sample ``total`` (sum) and ``events`` (non-zero count) of ``a_in`` over window steps."""

    def __init__(self, *, n: int, samples: int, period: int, window: int, first: int):
        super().__init__(shape=(n,), period=int(period), window=int(window), first=int(first))
        self.a_in = InPort(shape=(n,))
        self.total = Var(shape=(n, samples), init=np.zeros((n, samples)))
        self.events = Var(shape=(n, samples), init=np.zeros((n, samples)))
