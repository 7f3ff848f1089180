"""The IF cell kind: integrate-and-fire without leak; trainable, quantised onto Lava's LIF
arithmetic with ``du = 4095, dv = 0`` (run in Lava by the generic ``StepLayer``)."""

from modspike.kinds.types import CellKind, FixedArith, FloatArith, NirCodec, Output, Quantizer

from . import float_step, int_step, nir, quantize
from .memory import MEMORY

IF_KIND = CellKind(
    name="if",
    output=Output.BINARY,
    float_params=float_step.IFParams,
    floating=FloatArith(
        initial_state=float_step.initial_state,
        step=float_step.step,
        module=float_step.build,
    ),
    synapse_bias=True,
    fixed=FixedArith(
        initial_state=int_step.initial_state,
        step=int_step.step,
        drive_exponent=int_step.drive_exponent,
        ste_fields=(("v", "v"),),
        min_shift=0,
    ),
    quant=Quantizer(
        quantize=quantize.quantize,
        out_exponent=quantize.out_exponent,
        to_dict=quantize.to_dict,
        from_dict=quantize.from_dict,
    ),
    nir=NirCodec(write=nir.write, read=nir.read, claims=nir.CLAIMS, read_foreign=nir.read_foreign),
    memory=MEMORY,
    description="integrate-and-fire without leak (Lava's LIF with du = 4095, dv = 0 in fixed point)",
)
