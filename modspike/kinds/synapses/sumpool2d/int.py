"""Sum pooling on integers: the exact depthwise convolution with mantissa-1 kernels."""

from .._conv.ops import accumulate  # noqa: F401
