"""The LIF cell kind: binary spikes; Lava's LIF (``LIFReset``) runs it natively."""

from modspike.kinds.types import CellKind, FixedArith, FloatArith, NirCodec, Output, Quantizer

from . import float_step, int_step, nir, quantize
from .memory import MEMORY


def compiled(params):
    """The compiled step (numba, imported on first use): :mod:`.int_kernel`; None for a layer
    with another tool's spike rule (its numpy step runs)."""
    if params.rule is not None and not params.rule.is_default:
        return None
    from .int_kernel import bind

    return bind(params)


FIXED = FixedArith(
    initial_state=int_step.initial_state,
    step=int_step.step,
    drive_exponent=int_step.drive_exponent,
    compiled=compiled,
    tensors=True,
    ste_fields=(("v", "v"),),
    min_shift=0,
)
QUANT = Quantizer(
    quantize=quantize.quantize,
    out_exponent=quantize.out_exponent,
    to_dict=quantize.to_dict,
    from_dict=quantize.from_dict,
    unit_gain=quantize.unit_gain,
)

LIF = CellKind(
    name="lif",
    output=Output.BINARY,
    float_params=float_step.LIFParams,
    floating=FloatArith(
        initial_state=float_step.initial_state,
        step=float_step.step,
        prepare=float_step.prepare,
        module=float_step.build,
    ),
    synapse_bias=True,
    fixed=FIXED,
    quant=QUANT,
    nir=NirCodec(write=nir.write, read=nir.read, claims=nir.CLAIMS, read_foreign=nir.read_foreign),
    memory=MEMORY,
    description="leaky integrate-and-fire (Lava's bit-accurate LIF in fixed point)",
    heterogeneous=("tau", "beta", "threshold"),
)
