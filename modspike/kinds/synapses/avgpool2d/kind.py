"""The average-pooling synapse kind (NIR ``AvgPool2d``): a stage without a cell after it, held in
the next synapse's ``pre`` stages (docs/architecture.md, "Composite synapses")."""

from modspike.kinds.types import SynapseKind

from .._conv.ops import out_shape_of
from . import counters, nir, quantize
from . import float as float_ops
from . import int as int_ops

AVGPOOL2D = SynapseKind(
    name="avgpool2d",
    out_shape=out_shape_of(2),
    apply_float=float_ops.apply,
    accumulate=int_ops.accumulate,
    weight_exponents=quantize.weight_exponents,
    write_nir=nir.write,
    read_nir=nir.read,
    events=counters.events,
    dense_ops=counters.dense_ops,
    fan_in=counters.fan_in,
    claims=nir.CLAIMS,
    description="average pooling (a depthwise convolution with a fixed kernel)",
)
