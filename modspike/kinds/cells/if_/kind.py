"""The IF cell kind (NIR integrate-and-fire; float only, for files from other tools)."""

from modspike.kinds.types import CellKind, FloatArith, NirCodec, Output

from . import float_step, nir
from .memory import MEMORY

IF_KIND = CellKind(
    name="if",
    output=Output.BINARY,
    float_params=float_step.IFParams,
    floating=FloatArith(initial_state=float_step.initial_state, step=float_step.step),
    synapse_bias=True,
    nir=NirCodec(write=None, read=nir.read, claims=nir.CLAIMS, read_foreign=nir.read_foreign),
    memory=MEMORY,
    description="integrate-and-fire without leak",
)
