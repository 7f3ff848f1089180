"""Process models of :mod:`.processes` (``fixed_pt`` and ``floating_pt``).

Both compile the layer they carry with :mod:`modspike.step` and run its step: ``fixed_pt`` the
integer arithmetic of the cell kind on the ``Dense`` accumulations (bit-exact with ``--backend
sim``), ``floating_pt`` the kind's float step (float32 torch, as the torch backend runs it).
"""

from __future__ import annotations

import numpy as np
import torch

from modspike.hw.lava.support import import_lava
from modspike.modulation import HeldModulation
from modspike.step import Precision, compile_layer

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402

from modspike.hw.lava.procs.processes import CountSink, StepLayer, window_phase  # noqa: E402


class _Scheduled(PyLoihiProcessModel):
    """The window schedule shared by both precisions; subclasses define ``to_state`` /
    ``from_state`` (the Var <-> the kind's state) and the precision's arrays."""

    precision: Precision

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.period = proc_params["period"]
        self.window = proc_params["window"]
        self.first = proc_params["first"]
        self.reset = proc_params["reset"]
        self.modulated = proc_params["modulated"]
        self.compiled = compile_layer(proc_params["layer"], self.precision)
        self.fields = type(self.compiled.initial_state(1))

    def run_spk(self):
        acc, rec, mod = self.a_in.recv(), self.r_in.recv(), self.mod_in.recv()
        if window_phase(self.time_step, self.first, self.period) < self.window:
            out = self.update(acc, rec, mod if self.modulated else None)
            self.output[:] = out
            self.s_out.send(out)
        elif self.reset:
            self.state[:] = 0
            self.output[:] = 0
            self.s_out.send(np.zeros_like(self.output))
        else:
            self.s_out.send(self.output.copy())


@implements(proc=StepLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStepLayerModelFixed(_Scheduled):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    r_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    mod_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    state: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    output: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    precision = Precision.FIXED

    def update(self, acc, rec, mod):
        L = self.compiled
        # Dense delivers mantissa . x exactly (weights 2q, weight_exp -1), as the simulator's
        # accumulation does; the layer applies the shifts and the bias itself
        a = L.from_accumulators(np.asarray(acc, np.int64)[None], np.asarray(rec, np.int64)[None])
        params = L.params
        if mod is not None:
            a, params = L.modulate(a, params, HeldModulation(*np.asarray(mod, np.int64)))
        state = self.fields(*(s[None] for s in self.state))
        out, new = L.step(a, state, params)
        self.state[:] = np.stack(new)[:, 0]
        return out[0]


@implements(proc=StepLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStepLayerModelFloat(_Scheduled):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    r_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    mod_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    state: np.ndarray = LavaPyType(np.ndarray, float)
    output: np.ndarray = LavaPyType(np.ndarray, float)
    precision = Precision.FLOAT

    def update(self, acc, rec, mod):
        L = self.compiled

        def t(x):
            return torch.as_tensor(np.asarray(x), dtype=torch.float32)[None]

        with torch.no_grad():
            a = L.from_accumulators(t(acc), t(rec))
            params = L.params
            if mod is not None:
                a, params = L.modulate(a, params, HeldModulation(t(mod[0]), t(mod[1]), t(mod[2])))
            state = self.fields(*(t(s) for s in self.state))
            out, new = L.step(a, state, params)
        self.state[:] = torch.stack([s[0] for s in new]).numpy()
        return out[0].numpy().astype(np.float64)


class _Counting(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.period = proc_params["period"]
        self.window = proc_params["window"]
        self.first = proc_params["first"]

    def run_spk(self):
        x = self.a_in.recv()
        sample, phase = divmod(self.time_step - self.first, self.period)
        if phase < self.window and 0 <= sample < self.total.shape[1]:
            self.total[:, sample] += x
            self.events[:, sample] += x != 0


@implements(proc=CountSink, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyCountSinkModelFixed(_Counting):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    total: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=64)
    events: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=64)


@implements(proc=CountSink, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyCountSinkModelFloat(_Counting):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    total: np.ndarray = LavaPyType(np.ndarray, float)
    events: np.ndarray = LavaPyType(np.ndarray, float)
