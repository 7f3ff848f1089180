"""2-d convolution in float: ``torch.nn.functional.conv2d`` on the (C, H, W) view, flattened."""

from .._conv.ops import apply_float as apply  # noqa: F401
