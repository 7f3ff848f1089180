"""The CubaLIF cell kind: LIF with a synaptic current; Lava's LIF (``du < 4095``) runs it."""

from dataclasses import replace

from modspike.kinds.types import CellKind, FloatArith, NirCodec, Output

from ..lif.kind import FIXED, QUANT
from ..lif.memory import MEMORY
from . import float_step, nir

CUBALIF = CellKind(
    name="cubalif",
    output=Output.BINARY,
    float_params=float_step.CubaLIFParams,
    floating=FloatArith(
        initial_state=float_step.initial_state,
        step=float_step.step,
        prepare=float_step.prepare,
        module=float_step.build,
    ),
    synapse_bias=True,
    fixed=replace(FIXED, ste_fields=(("syn", "u"), ("v", "v"))),  # Lava's LIF, du < 4095
    quant=QUANT,
    nir=NirCodec(write=nir.write, read=nir.read, claims=nir.CLAIMS, read_foreign=nir.read_foreign),
    memory=MEMORY,
    description="current-based LIF (Lava's bit-accurate LIF with a current decay du)",
    heterogeneous=("tau", "beta", "tau_syn", "alpha", "threshold"),
)
