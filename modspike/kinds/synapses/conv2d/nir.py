"""Conv2d in NIR: weight ``(C_out, C_in/groups, kH, kW)`` on ``(C, H, W)`` inputs, with stride,
padding (numbers, ``"same"``, ``"valid"``), dilation, groups and a bias (zeros = none)."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import ConfigError, NIRError

from ...nir_schema import META_KEY
from ...nir_values import array
from .._conv import codec
from .._conv.ops import geometry_of

CLAIMS = (nir.Conv2d,)


def write(synapse, meta: dict) -> nir.Conv2d:
    g = geometry_of(synapse.weight, synapse.attrs)
    if g.kernel[0] != g.kernel[1]:
        raise ConfigError(
            f"a {g.kernel[0]}x{g.kernel[1]} kernel cannot be written: nir 1.0.8 infers Conv2d"
            " output shapes from the kernel height alone (square kernels only)"
        )
    bias = np.zeros(g.c_out) if synapse.bias is None else np.asarray(synapse.bias)
    weight = np.asarray(synapse.weight, dtype=np.float32)
    if g.groups > 1:  # nir 1.0.8 cannot type a grouped convolution: write its dense equivalent
        weight = codec.expand_groups(weight, g.groups)
        meta = {**meta, META_KEY: {**meta.get(META_KEY, {}), codec.GROUPS_KEY: g.groups}}
    return nir.Conv2d(
        input_shape=tuple(g.in_shape[1:]),
        weight=weight,
        stride=g.stride,
        padding=g.padding,
        dilation=g.dilation,
        groups=1,
        bias=bias.astype(np.float32),
        metadata=meta,
    )


def read(node, name: str, in_shape=None):
    """``(weight, bias or None, attrs)`` of a Conv2d node that receives ``in_shape``."""
    w = array(node, "weight", name)
    if w.ndim != 4:
        raise NIRError(f"{name}: a Conv2d weight is (C_out, C_in/groups, kH, kW), got {w.shape}")
    if in_shape is None or len(in_shape) != 3:
        raise NIRError(f"{name}: a Conv2d needs input of shape (C, H, W), gets {in_shape}")
    return codec.read_conv(node, name, in_shape, w, 2)
