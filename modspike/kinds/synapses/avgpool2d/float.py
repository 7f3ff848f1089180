"""Average pooling in float: a depthwise ``conv2d`` with the fixed kernel (one fused call)."""

from .._conv.ops import apply_float as apply  # noqa: F401
