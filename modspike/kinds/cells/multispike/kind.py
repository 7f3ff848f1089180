"""The multi-spike cell kind: a current-based LIF that emits ``floor(v/threshold)`` spikes per
step and subtracts them (Sinabs' MultiSpike LIF / IAF, Rockpool's LIFTorch). Float and fixed
point (the LIF family's registers with the spike-count rule); on Lava modspike's StepLayer runs
its integer step (Lava's LIF emits one spike and resets to zero)."""

from modspike.kinds.types import CellKind, FixedArith, FloatArith, NirCodec, Output, Quantizer

from ..lif import int_step
from ..lif.memory import MEMORY
from . import float_step, nir, quantize

MULTISPIKE_KIND = CellKind(
    name="multispike",
    output=Output.GRADED,
    float_params=float_step.MultiSpikeParams,
    floating=FloatArith(initial_state=float_step.initial_state, step=float_step.step),
    synapse_bias=True,
    fixed=FixedArith(
        initial_state=int_step.initial_state,
        step=int_step.step,
        drive_exponent=int_step.drive_exponent,
        ste_fields=(("syn", "u"), ("v", "v")),
        min_shift=0,
        tensors=True,
    ),
    quant=Quantizer(
        quantize=quantize.quantize,
        out_exponent=quantize.out_exponent,
        to_dict=quantize.to_dict,
        from_dict=quantize.from_dict,
        unit_gain=quantize.unit_gain,
    ),
    nir=NirCodec(
        write=nir.write, read=nir.read, extension=nir.EXTENSION, read_foreign=nir.read_foreign
    ),
    memory=MEMORY,
    hardware_note="spike counts: Loihi 2 graded spikes; on Lava modspike's StepLayer runs it",
    description="LIF emitting floor(v/threshold) spikes per step, subtracted (Sinabs, Rockpool)",
)
