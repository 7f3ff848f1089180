"""The LI cell kind (NIR leaky integrator; float only, for files from other tools)."""

from modspike.kinds.types import CellKind, FloatArith, NirCodec, Output

from . import float_step, nir
from .memory import MEMORY

LI = CellKind(
    name="li",
    output=Output.GRADED,
    float_params=float_step.LIParams,
    floating=FloatArith(initial_state=float_step.initial_state, step=float_step.step),
    synapse_bias=True,
    nir=NirCodec(write=None, read=nir.read, claims=nir.CLAIMS),
    memory=MEMORY,
    description="leaky integrator: outputs its membrane v",
)
