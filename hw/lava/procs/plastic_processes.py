"""Lava Processes for on-chip learning: a three-factor LIF and a recording ``LearningDense``.

:class:`RewardLIF` is a ``LearningLIF`` whose model also sends what a three-factor rule reads:
the spike as back-propagating action potential (``s_out_bap``), its post-synaptic trace (``y1``,
:func:`modspike.plasticity.engine.post_trace_step`), the third factor it receives this step on
``a_third_factor_in`` (``y2``: reward / dopamine) and 0 (``y3``). Lava 0.10's own fixed-point
``LearningLIF`` model sends none of them, so it cannot drive ``RewardModulatedSTDP``.

:class:`RecordedLearningDense` is Lava's ``LearningDense`` whose model is Lava's
``PyLearningDenseModelBitApproximate`` unchanged, plus a post-management phase that copies its state
every step and writes all steps to ``record_path`` (``.npz``) at step ``record_steps``: per-step
records of the learning engine without per-element ``Var.get`` (~20 us each) or one ``Monitor``
process per Var.

:class:`SpikeJoin` records the spikes of up to 16 populations (``in_0 .. in_15``) the same way. It
also ties independent networks into one process graph, so that a single Lava runtime runs them
all (Lava 0.10 refuses ``concat_with`` ports: "ConcatPorts are not yet supported").
"""

from __future__ import annotations

from modspike.hw.lava.support import import_lava

import_lava()

from lava.magma.core.process.ports.ports import InPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.proc.dense.process import LearningDense  # noqa: E402
from lava.proc.lif.process import LearningLIF  # noqa: E402

MAX_JOIN = 16


class RewardLIF(LearningLIF):
    """A fixed-point LIF that sends ``y1`` (its trace), ``y2`` (the received reward), ``y3 = 0``."""

    def __init__(self, *, shape: tuple[int, ...], y1_impulse: int, y1_decay: int, **kwargs):
        super().__init__(shape=shape, y1_impulse=int(y1_impulse), y1_decay=int(y1_decay), **kwargs)


class RecordedLearningDense(LearningDense):
    """``LearningDense`` that writes its per-step state to ``record_path`` after ``record_steps``."""

    def __init__(self, *, record_path: str, record_steps: int, **kwargs):
        super().__init__(record_path=str(record_path), record_steps=int(record_steps), **kwargs)


class SpikeJoin(AbstractProcess):
    """Receives ``len(shapes)`` spike vectors per step and writes them to ``record_path``."""

    def __init__(self, *, shapes: list[tuple[int, ...]], record_path: str, record_steps: int):
        if not 1 <= len(shapes) <= MAX_JOIN:
            raise ValueError(f"SpikeJoin takes 1..{MAX_JOIN} inputs, got {len(shapes)}")
        super().__init__(n_in=len(shapes), record_path=str(record_path), record_steps=record_steps)
        for i in range(MAX_JOIN):  # the model declares all 16; unused ones stay unconnected
            shape = tuple(shapes[i]) if i < len(shapes) else (1,)
            setattr(self, f"in_{i}", InPort(shape=shape))


class PlasticDense(LearningDense):
    """modspike's plastic connection: Lava's ``LearningDense`` whose initial weights are loaded
    as they are (a learned artifact's odd weights are not truncated again), optionally writing its
    per-step state to ``record_path`` after ``record_steps`` steps (``record_steps = 0``: none)."""

    def __init__(self, *, record_path: str = "", record_steps: int = 0, **kwargs):
        super().__init__(record_path=str(record_path), record_steps=int(record_steps), **kwargs)
