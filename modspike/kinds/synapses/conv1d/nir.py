"""Conv1d in NIR: weight ``(C_out, C_in/groups, K)`` on ``(C, N)`` inputs, with stride, padding
(numbers, ``"same"``, ``"valid"``), dilation, groups and a bias (zeros = none)."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError

from ...nir_schema import META_KEY
from ...nir_values import array
from .._conv import codec
from .._conv.ops import geometry_of

CLAIMS = (nir.Conv1d,)


def write(synapse, meta: dict) -> nir.Conv1d:
    g = geometry_of(synapse.weight, synapse.attrs)
    bias = np.zeros(g.c_out) if synapse.bias is None else np.asarray(synapse.bias)
    weight = np.asarray(synapse.weight, dtype=np.float32)
    if g.groups > 1:  # nir 1.0.8 cannot type a grouped convolution: write its dense equivalent
        weight = codec.expand_groups(weight, g.groups)
        meta = {**meta, META_KEY: {**meta.get(META_KEY, {}), codec.GROUPS_KEY: g.groups}}
    return nir.Conv1d(
        input_shape=int(g.in_shape[1]),
        weight=weight,
        stride=int(g.stride[0]),
        padding=int(g.padding[0]),
        dilation=int(g.dilation[0]),
        groups=1,
        bias=bias.astype(np.float32),
        metadata=meta,
    )


def read(node, name: str, in_shape=None):
    """``(weight, bias or None, attrs)`` of a Conv1d node that receives ``in_shape``."""
    w = array(node, "weight", name)
    if w.ndim != 3:
        raise NIRError(f"{name}: a Conv1d weight is (C_out, C_in/groups, K), got {w.shape}")
    if in_shape is None or len(in_shape) != 2:
        raise NIRError(f"{name}: a Conv1d needs input of shape (C, N), gets {in_shape}")
    return codec.read_conv(node, name, in_shape, w, 1)
