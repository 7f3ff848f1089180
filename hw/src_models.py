"""Process models of :class:`modspike.hw.src_process.SRCLayer`.

``fixed_pt``: bit-exact with :class:`modspike.fxpnet.IntLayer` (it calls ``apply_exponent``,
``src_step_int`` / ``msrc_step_int`` of :mod:`modspike.fixedpoint`, the one definition of the
integer arithmetic). A ``floating_pt`` model is not written yet (``docs/hardware.md``).
"""

from __future__ import annotations

import numpy as np
from modspike.fixedpoint import (
    MSRCIntState,
    SRCIntState,
    apply_exponent,
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
from modspike.hw.src_process import SRCLayer  # noqa: E402


@implements(proc=SRCLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySRCLayerModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    r_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    i: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    h: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    hs: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    hu: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.layer = proc_params["layer"]
        self.period = proc_params["period"]
        self.gap_offset = proc_params["gap_offset"] % self.period

    def run_spk(self):
        acc = np.asarray(self.a_in.recv(), dtype=np.int64)
        rec = np.asarray(self.r_in.recv(), dtype=np.int64)
        if self.time_step % self.period == self.gap_offset:
            for var in (self.i, self.h, self.hs, self.hu):
                var[:] = 0
            self.s_out.send(np.zeros_like(self.h))
            return
        layer = self.layer
        # Dense delivers q.s exactly (weights 2q, weight_exp -1), as int_matmul does
        a = apply_exponent(acc, layer.synapse.shift) + layer.bias
        if layer.recurrent is not None:
            a = a + apply_exponent(rec, layer.recurrent.shift)
        if layer.kind == "src":
            state = SRCIntState(self.i[None], self.h[None], self.hs[None])
            out, new = src_step_int(a[None], state, layer.params)
        else:
            state = MSRCIntState(self.i[None], self.h[None], self.hs[None], self.hu[None])
            out, new = msrc_step_int(a[None], state, layer.params)
            self.hu[:] = new.hu[0]
        self.i[:] = new.i[0]
        self.h[:] = new.h[0]
        self.hs[:] = new.hs[0]
        self.s_out.send(out[0])
