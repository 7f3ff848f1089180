"""Process models of :mod:`modspike.hw.src_process` (``fixed_pt`` and ``floating_pt``).

``fixed_pt`` runs :meth:`modspike.fxpnet.IntLayer.step` (hence ``modspike.fixedpoint``, the one
definition of the integer arithmetic) on the ``Dense`` accumulation: bit-exact with ``--backend
sim``. ``floating_pt`` runs ``modspike.train.cells``' step functions (float32 torch, the one
float definition), as the torch backend does.
"""

from __future__ import annotations

import numpy as np
import torch
from modspike.fixedpoint import (
    IntModulation,
    MSRCIntState,
    SRCIntState,
    apply_exponent,
    modulate,
    msrc_step_int,
    src_step_int,
)
from modspike.hw.lava_support import import_lava

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from modspike.hw.src_process import CountSink, SRCLayer, window_phase  # noqa: E402


class _Scheduled(PyLoihiProcessModel):
    """The window schedule shared by both precisions; subclasses define ``update``."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.period = proc_params["period"]
        self.window = proc_params["window"]
        self.first = proc_params["first"]
        self.reset = proc_params["reset"]
        self.modulated = proc_params["modulated"]

    def run_spk(self):
        acc, rec, mod = self.a_in.recv(), self.r_in.recv(), self.mod_in.recv()
        if window_phase(self.time_step, self.first, self.period) < self.window:
            self.s_out.send(self.update(acc, rec, mod if self.modulated else None))
        elif self.reset:
            for var in (self.i, self.h, self.hs, self.hu):
                var[:] = 0
            self.s_out.send(np.zeros_like(self.h))
        else:
            self.s_out.send(np.maximum(self.h, 0))


@implements(proc=SRCLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySRCLayerModelFixed(_Scheduled):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    r_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    mod_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    i: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    h: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    hs: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    hu: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.layer = proc_params["layer"]

    def update(self, acc, rec, mod):
        layer = self.layer
        # Dense delivers q.s exactly (weights 2q, weight_exp -1), as int_matmul does
        a = apply_exponent(np.asarray(acc, np.int64), layer.synapse.shift) + layer.bias
        if layer.recurrent is not None:
            a = a + apply_exponent(np.asarray(rec, np.int64), layer.recurrent.shift)
        m = None if mod is None else IntModulation(*np.asarray(mod, np.int64))
        a, params = modulate(a[None], layer.params, m)
        if layer.kind == "src":
            out, new = src_step_int(
                a, SRCIntState(self.i[None], self.h[None], self.hs[None]), params
            )
        else:
            state = MSRCIntState(self.i[None], self.h[None], self.hs[None], self.hu[None])
            out, new = msrc_step_int(a, state, params)
            self.hu[:] = new.hu[0]
        self.i[:], self.h[:], self.hs[:] = new.i[0], new.h[0], new.hs[0]
        return out[0]


@implements(proc=SRCLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySRCLayerModelFloat(_Scheduled):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    r_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    mod_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    i: np.ndarray = LavaPyType(np.ndarray, float)
    h: np.ndarray = LavaPyType(np.ndarray, float)
    hs: np.ndarray = LavaPyType(np.ndarray, float)
    hu: np.ndarray = LavaPyType(np.ndarray, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        from modspike.export.runner import make_cell

        spec = proc_params["spec"]
        self.cell = make_cell(spec)
        zeros = np.zeros(spec.n)
        self.bias = spec.bias if spec.bias is not None else zeros
        self.rec_bias = spec.rec_bias if spec.rec_bias is not None else zeros
        self.has_rec = spec.rec_weight is not None

    def update(self, acc, rec, mod):
        from modspike.train.cells.msrc import MSRCState, msrc_step
        from modspike.train.cells.src import SRCState, src_step

        a = np.asarray(acc) + self.bias
        if self.has_rec:
            a = a + np.asarray(rec) + self.rec_bias

        def t(x):
            return torch.as_tensor(np.asarray(x), dtype=torch.float32)[None]

        a, cell = t(a), self.cell
        gain, db, dhs0 = (1.0, 0.0, 0.0) if mod is None else (t(mod[0]), t(mod[1]), t(mod[2]))
        with torch.no_grad():
            if cell.kind == "src":
                state = SRCState(t(self.i), t(self.h), t(self.hs))
                out, new = src_step(a * gain, state, cell.bh + db, cell.constants)
            else:
                state = MSRCState(t(self.i), t(self.h), t(self.hs), t(self.hu))
                out, new = msrc_step(a * gain, state, cell.b + db, cell.hs0 + dhs0, cell.constants)
                self.hu[:] = new.hu[0].numpy()
        self.i[:], self.h[:], self.hs[:] = new.i[0].numpy(), new.h[0].numpy(), new.hs[0].numpy()
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
