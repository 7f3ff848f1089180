"""A synapse process that accumulates exactly with the synapse kind's own arithmetic.

:class:`SynapseStage` is a ``Dense``-like process for the conv-like kinds where Lava's own
``lava.proc.conv.Conv`` does not fit: its ``fixed_pt`` model wraps every output to 24 bits
(``signed_clamp``), which graded inputs (SRC-family outputs, pooled counts) can exceed. The
``fixed_pt`` model runs the kind's exact integer accumulation (``SynapseKind.accumulate``, int64,
the simulator's own) and shifts it left by a per-neuron ``shift`` (>= 0); ``floating_pt`` has no
wrap to avoid and uses Lava's Conv. Like ``Dense`` it sends the previous step's accumulation
before it receives (one step of delay). The synapse record travels in
``proc_params``, as :class:`~modspike.hw.lava.procs.processes.StepLayer`'s layer does.
"""

from __future__ import annotations

import numpy as np

from modspike.hw.lava.support import import_lava

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402


class SynapseStage(AbstractProcess):
    """``a_out[t] = accumulate(s_in[t-1]) << shift`` (exact integers)."""

    def __init__(self, *, synapse, n_in: int, n_out: int, shift=None, name=None):
        super().__init__(
            shape=(n_out,),
            synapse=synapse,
            shift=None if shift is None else np.asarray(shift, dtype=np.int64),
            name=name,
        )
        self.s_in = InPort(shape=(n_in,))
        self.a_out = OutPort(shape=(n_out,))
        self.a_buf = Var(shape=(n_out,), init=np.zeros(n_out))


class _Stage(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.synapse = proc_params["synapse"]
        self.shift = proc_params["shift"]

    def run_spk(self):
        self.a_out.send(self.a_buf.copy())
        self.a_buf[:] = self.accumulate(self.s_in.recv())


@implements(proc=SynapseStage, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySynapseStageModelFixed(_Stage):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=64)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=64)

    def accumulate(self, x):
        syn = self.synapse
        acc = syn.kind.accumulate(np.asarray(x, np.int64)[None], syn.fixed.mantissa, syn.attrs)[0]
        return acc if self.shift is None else np.left_shift(acc, self.shift)
