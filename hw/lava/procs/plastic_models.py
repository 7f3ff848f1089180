"""Fixed-point ProcessModels of :mod:`modspike.hw.lava.procs.plastic_processes` (see there).

Both subclass Lava's own models, so every arithmetic step but the ones written here is Lava's:
``PyRewardLIFModel`` runs ``AbstractPyLifModelFixed.run_spk`` (Lava's bit-accurate LIF) and adds the
trace messages; ``PyRecordedLearningDenseModel`` is ``PyLearningDenseModelBitApproximate`` with a
recording post-management phase. (``implements_process = None`` in the class body lets Lava's
``@implements`` accept a subclass of a model that already implements another Process.)
"""

from __future__ import annotations

import numpy as np

from modspike.hw.lava.support import import_lava

import_lava()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.dense.models import PyLearningDenseModelBitApproximate  # noqa: E402
from lava.proc.lif.models import AbstractPyLifModelFixed, PyLearningLIFModelFixed  # noqa: E402

from modspike.hw.lava.procs.plastic_processes import (  # noqa: E402
    MAX_JOIN,
    PlasticDense,
    RecordedLearningDense,
    RewardLIF,
    SpikeJoin,
)

RECORDED_VARS = ("weights", "tag_1", "tag_2", "x1", "x2", "y1", "y2", "y3", "a_buff")


@implements(proc=RewardLIF, protocol=LoihiProtocol)
@tag("fixed_pt")
class PyRewardLIFModel(PyLearningLIFModelFixed):
    """Lava's fixed-point LIF step, then ``y1 = min(127, (y1 (4096 - d)) >> 12 + impulse * s)``,
    ``y2 = reward``, ``y3 = 0`` sent with the spike."""

    implements_process = None

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._y1_impulse = int(proc_params["y1_impulse"])
        self._y1_decay = int(proc_params["y1_decay"])

    def run_spk(self) -> None:
        AbstractPyLifModelFixed.run_spk(self)  # recv a_in, LIF dynamics, spike, reset, send s_out
        reward = self.a_third_factor_in.recv()
        spikes = np.asarray(self.s_out_buff).astype(np.int64)
        y1 = (self.y1.astype(np.int64) * (4096 - self._y1_decay)) >> 12
        self.y1[:] = np.clip(y1 + self._y1_impulse * spikes, 0, 127)
        self.y2[:] = reward
        self.s_out_bap.send(spikes.astype(bool))
        self.s_out_y1.send(self.y1)
        self.s_out_y2.send(self.y2)
        self.s_out_y3.send(self.y3)


@implements(proc=RecordedLearningDense, protocol=LoihiProtocol)
@tag("fixed_pt")
class PyRecordedLearningDenseModel(PyLearningDenseModelBitApproximate):
    """Lava's fixed-point learning Dense; records its state after every step (post management)."""

    implements_process = None

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._records = {k: [] for k in (*RECORDED_VARS, "pre", "bap")}

    def _process_pre_spikes(self, s_in):
        self._records["pre"].append(np.asarray(s_in).astype(np.int64))
        super()._process_pre_spikes(s_in)

    def _process_post_spikes(self, s_in_bap):
        self._records["bap"].append(np.asarray(s_in_bap).astype(np.int64))
        super()._process_post_spikes(s_in_bap)

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        for k in RECORDED_VARS:
            self._records[k].append(np.array(getattr(self, k), dtype=np.int64))
        if self.time_step == self.proc_params["record_steps"]:
            arrays = {k: np.stack(v) for k, v in self._records.items() if v}
            np.savez(self.proc_params["record_path"], **arrays)


@implements(proc=PlasticDense, protocol=LoihiProtocol)
@tag("fixed_pt")
class PyPlasticDenseModel(PyLearningDenseModelBitApproximate):
    """Lava's fixed-point learning Dense without the first step's weight truncation (the weights
    are loaded as they are), recording its state every step when ``record_steps > 0``."""

    implements_process = None

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.weights_set = True  # skip Lava's truncation of the initial weights
        self._steps = int(proc_params["record_steps"])
        keys = (*RECORDED_VARS, "pre")
        self._records = {k: [] for k in keys} if self._steps > 0 else None

    def _process_pre_spikes(self, s_in):
        if self._records is not None:
            self._records["pre"].append(np.asarray(s_in).astype(np.int64))
        super()._process_pre_spikes(s_in)

    def post_guard(self) -> bool:
        return self._records is not None

    def run_post_mgmt(self) -> None:
        for k in RECORDED_VARS:
            self._records[k].append(np.array(getattr(self, k), dtype=np.int64))
        if self.time_step == self._steps:
            arrays = {k: np.stack(v) for k, v in self._records.items()}
            np.savez(self.proc_params["record_path"], **arrays)


@implements(proc=SpikeJoin, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeJoinModel(PyLoihiProcessModel):
    """Receives every input each step; writes them all at step ``record_steps``."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._records = [[] for _ in range(proc_params["n_in"])]

    def run_spk(self) -> None:
        for i, rec in enumerate(self._records):
            rec.append(np.asarray(getattr(self, f"in_{i}").recv()).astype(np.int64))
        if self.time_step == self.proc_params["record_steps"]:
            arrays = {f"in_{i}": np.stack(r) for i, r in enumerate(self._records)}
            np.savez(self.proc_params["record_path"], **arrays)


for _i in range(MAX_JOIN):  # one port declaration per possible input (Lava reads them by name)
    setattr(PySpikeJoinModel, f"in_{_i}", LavaPyType(PyInPort.VEC_DENSE, np.int32))
