"""Average pooling in float: ``avg_pool2d`` summing, times the fixed kernel value."""

from .._conv.pool import apply_float as apply  # noqa: F401
