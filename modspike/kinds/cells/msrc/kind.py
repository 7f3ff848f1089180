"""The mSRC and BSRC cell kinds: the SRC family with a learnable excitability vertex ``h_s0``."""

from modspike.kinds.types import (
    CellKind,
    FixedArith,
    FloatArith,
    ModTargets,
    NirCodec,
    Output,
    Quantizer,
)

from ..src.int_step import drive_exponent
from ..src.kind import attractor
from ..src.quantize import out_exponent
from . import float_step, int_step, nir, quantize
from .memory import BSRC_MEMORY, MSRC_MEMORY


def compiled(params):
    """The compiled step (numba, imported on first use): :mod:`.int_kernel`."""
    from .int_kernel import bind

    return bind(params)


_FIXED = FixedArith(
    initial_state=int_step.initial_state,
    step=int_step.step,
    drive_exponent=drive_exponent,
    compiled=compiled,
    tensors=True,
    ste_fields=(("i", "i"), ("h", "h"), ("hs", "hs"), ("hu", "hu")),
)
_QUANT = Quantizer(
    quantize=quantize.quantize,
    out_exponent=out_exponent,
    to_dict=quantize.to_dict,
    from_dict=quantize.from_dict,
)
_MOD = ModTargets(bias="b", hs0="hs0", fixed_bias="bias", fixed_hs0="hs0")


def _kind(name: str, build, memory, description: str) -> CellKind:
    return CellKind(
        name=name,
        output=Output.GRADED,
        float_params=float_step.MSRCParams,
        constants=float_step.MSRCConstants,
        floating=FloatArith(
            initial_state=float_step.initial_state,
            step=float_step.step,
            module=build,
            init_synapse=float_step.init_synapse,
        ),
        modulation=_MOD,
        fixed=_FIXED,
        quant=_QUANT,
        nir=NirCodec(write=nir.write, read=nir.read, extension=name),
        memory=memory,
        attractor=attractor,
        hardware_note=f"the {name} neuron is not built into Loihi 2; it runs as a microcoded"
        " neuron model (graded spikes carry max(h, 0))",
        description=description,
        heterogeneous=("hs0", "b"),
    )


MSRC = _kind(
    "msrc",
    float_step.build_msrc,
    MSRC_MEMORY,
    "neuromodulable SRC: quadratic slow feedback with vertex h_s0 (type 1 / 2 / 2*)",
)
BSRC = _kind(
    "bsrc", float_step.build_bsrc, BSRC_MEMORY, "bursting SRC: mSRC plus an ultraslow feedback"
)
