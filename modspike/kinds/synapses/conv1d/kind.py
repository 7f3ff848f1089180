"""The 1-d convolution synapse kind (NIR ``Conv1d``): weights shared over positions, one output
neuron per (channel, position)."""

from modspike.kinds.types import SynapseKind

from .._conv.ops import out_shape_of
from . import counters, nir, quantize
from . import float as float_ops
from . import int as int_ops

CONV1D = SynapseKind(
    name="conv1d",
    out_shape=out_shape_of(1),
    apply_float=float_ops.apply,
    accumulate=int_ops.accumulate,
    weight_exponents=quantize.weight_exponents,
    write_nir=nir.write,
    read_nir=nir.read,
    events=counters.events,
    dense_ops=counters.dense_ops,
    fan_in=counters.fan_in,
    claims=nir.CLAIMS,
    description="1-d convolution (C_out, C_in/groups, K) on (C, N)",
)
