"""The BRC and nBRC cell kinds (non-spiking bistable recurrent cells; float only)."""

from modspike.kinds.types import CellKind, FloatArith, Output

from . import float_step


def attractor(state):
    """Warm-up compares the whole state ``h``."""
    return state.h


def _kind(name: str, step, build, description: str) -> CellKind:
    return CellKind(
        name=name,
        output=Output.GRADED,
        float_params=float_step.BRCParams,
        floating=FloatArith(
            initial_state=float_step.initial_state,
            step=step,
            module=build,
            init_synapse=float_step.init_synapse,
        ),
        in_multiplicity=3,
        attractor=attractor,
        description=description,
    )


BRC = _kind("brc", float_step.step_brc, float_step.build_brc, "bistable recurrent cell")
NBRC = _kind(
    "nbrc",
    float_step.step_nbrc,
    float_step.build_nbrc,
    "neuromodulated bistable recurrent cell",
)
