"""The SRC cell kind (De Geeter, Ernst & Drion): graded output ``max(h, 0)``."""

from modspike.kinds.types import (
    CellKind,
    FixedArith,
    FloatArith,
    ModTargets,
    NirCodec,
    Output,
    Quantizer,
)

from . import float_step, int_step, nir, quantize
from .memory import MEMORY


def attractor(state):
    """The part of the float state warm-up compares (VAA): fast and slow states."""
    import torch

    return torch.cat([state.h, state.hs], -1)


def compiled(params):
    """The compiled step (numba, imported on first use): :mod:`.int_kernel`."""
    from .int_kernel import bind

    return bind(params)


SRC = CellKind(
    name="src",
    output=Output.GRADED,
    float_params=float_step.SRCParams,
    constants=float_step.SRCConstants,
    floating=FloatArith(
        initial_state=float_step.initial_state,
        step=float_step.step,
        prepare=float_step.prepare,
        module=float_step.build,
        init_synapse=float_step.init_synapse,
    ),
    modulation=ModTargets(bias="bh"),
    fixed=FixedArith(
        initial_state=int_step.initial_state,
        step=int_step.step,
        drive_exponent=int_step.drive_exponent,
        compiled=compiled,
        tensors=True,
        ste_fields=(("i", "i"), ("h", "h"), ("hs", "hs")),
    ),
    quant=Quantizer(
        quantize=quantize.quantize,
        out_exponent=quantize.out_exponent,
        to_dict=quantize.to_dict,
        from_dict=quantize.from_dict,
    ),
    nir=NirCodec(write=nir.write, read=nir.read, extension="src"),
    memory=MEMORY,
    attractor=attractor,
    hardware_note="the src neuron is not built into Loihi 2; it runs as a microcoded neuron model"
    " (graded spikes carry max(h, 0))",
    description="Spiking Recurrent Cell: fast state h, slow state h_s, leaky input synapse",
)
