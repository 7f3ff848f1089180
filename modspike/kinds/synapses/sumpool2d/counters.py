"""Sum-pooling operation counts (a depthwise convolution's; NeuroBench does not count
pooling layers, so the counters report them apart from the synaptic operations)."""

from .._conv.ops import dense_ops, events, fan_in  # noqa: F401
