"""The dense synapse kind: every output neuron sees every input (NIR ``Linear`` / ``Affine``)."""

import numpy as np

from modspike.errors import ConfigError
from modspike.kinds.types import SynapseKind

from . import counters, nir, quantize
from . import float as float_ops
from . import int as int_ops


def out_shape(synapse, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    n_out, n_in = synapse.weight.shape
    if int(np.prod(in_shape)) != n_in:
        raise ConfigError(f"a dense synapse with {n_in} inputs gets input of shape {in_shape}")
    return (int(n_out),)


def compiled(mantissa, attrs):
    """The simulator's accumulation (exact int8 or float GEMMs): :mod:`.int_kernel`."""
    from .int_kernel import bind

    return bind(mantissa, attrs)


DENSE = SynapseKind(
    name="dense",
    out_shape=out_shape,
    apply_float=float_ops.apply,
    accumulate=int_ops.accumulate,
    weight_exponents=quantize.weight_exponents,
    write_nir=nir.write,
    read_nir=nir.read,
    events=counters.events,
    dense_ops=counters.dense_ops,
    fan_in=counters.fan_in,
    claims=nir.CLAIMS,
    tensors=True,
    compiled=compiled,
    description="all-to-all projection",
)
