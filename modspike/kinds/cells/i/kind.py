"""The I cell kind (NIR integrator; float only, for files from other tools)."""

from modspike.kinds.types import CellKind, FloatArith, NirCodec, Output

from . import float_step, nir
from .memory import MEMORY

I_KIND = CellKind(
    name="i",
    output=Output.GRADED,
    float_params=float_step.IParams,
    floating=FloatArith(initial_state=float_step.initial_state, step=float_step.step),
    synapse_bias=True,
    nir=NirCodec(write=None, read=nir.read, claims=nir.CLAIMS),
    memory=MEMORY,
    description="integrator: outputs its state v",
)
