"""Pooling as a depthwise convolution with a fixed kernel (Lava and lava-dl pool this way):
``groups = C``, weight ``(C, 1, kH, kW)`` of ones (sum) or ``1 / (kH kW)`` (average, NIR's
``AvgPool2d`` counts the padding as torch does). NIR's pooling nodes carry kernel size, stride and
padding but no channel count, so the weight is built from the input shape."""

from __future__ import annotations

import numpy as np

from modspike.errors import NIRError

from . import codec
from .ops import geometry_of


def pool_weight(channels: int, kernel: tuple[int, int], average: bool) -> np.ndarray:
    value = 1.0 / (kernel[0] * kernel[1]) if average else 1.0
    return np.full((channels, 1, *kernel), value)


def pool_synapse_parts(in_shape, kernel, stride=None, padding=0, average: bool = False):
    """``(weight, attrs)`` of a pooling stage (stride defaults to the kernel, as in torch)."""
    from .geometry import _ints, make_attrs

    k = _ints(kernel, 2, "pooling kernel", 1)
    attrs = make_attrs(in_shape, k if stride is None else stride, padding, 1, in_shape[0], dims=2)
    return pool_weight(in_shape[0], k, average), attrs


def check_pool(synapse, average: bool) -> None:
    """A pooling stage's weight is its fixed kernel, depthwise (refuses edited weights)."""
    from modspike.errors import ConfigError

    g = geometry_of(synapse.weight, synapse.attrs)
    want = pool_weight(g.c_in, g.kernel, average)
    if g.groups != g.c_in or g.c_out != g.c_in or g.dilation != (1, 1):
        raise ConfigError("a pooling stage is depthwise (groups = channels) without dilation")
    if synapse.weight.shape != want.shape or not np.allclose(synapse.weight, want, rtol=0, atol=0):
        raise ConfigError("a pooling stage's weight must be its fixed kernel")
    if synapse.bias is not None:
        raise ConfigError("a pooling stage has no bias")


def write_fields(synapse) -> dict:
    g = geometry_of(synapse.weight, synapse.attrs)
    return {
        "kernel_size": np.array(g.kernel),
        "stride": np.array(g.stride),
        "padding": np.array(g.padding),
    }


def read(node, name: str, in_shape, average: bool):
    """``(weight, None, attrs)`` of a SumPool2d / AvgPool2d node that receives ``in_shape``."""
    if in_shape is None or len(in_shape) != 3:
        raise NIRError(
            f"{name}: {type(node).__name__} needs input of shape (C, H, W), gets {in_shape}"
        )
    kernel = codec.field(node, "kernel_size", name)
    stride = codec.field(node, "stride", name, kernel)
    pad = codec.padding(codec.field(node, "padding", name, 0), (1, 1), (1, 1), 1, name)
    if codec.text(pad) is not None:
        raise NIRError(f"{name}: pooling padding must be numbers")
    try:
        weight, attrs = pool_synapse_parts(tuple(in_shape), kernel, stride, pad, average)
    except Exception as exc:  # ConfigError, or numpy's own on odd values
        raise NIRError(f"{name}: {exc}") from None
    return weight, None, attrs


def apply_float(x, weight, bias, attrs):
    """Pooling in torch: ``avg_pool2d`` summing (``divisor_override=1``) times the kernel value
    (1, or ``1 / (kH kW)``); torch's depthwise ``conv2d`` computes the same, many times slower."""
    import torch.nn.functional as F

    g = geometry_of(weight, attrs)
    y = F.avg_pool2d(
        x.reshape(x.shape[0], *g.in_shape),
        g.kernel,
        stride=g.stride,
        padding=g.padding,
        count_include_pad=True,
        divisor_override=1,
    )
    value = weight.reshape(-1)[0]
    return (y * value).flatten(1)
