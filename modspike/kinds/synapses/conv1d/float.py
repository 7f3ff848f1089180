"""1-d convolution in float: ``torch.nn.functional.conv1d`` on the (C, N) view, flattened."""

from .._conv.ops import apply_float as apply  # noqa: F401
