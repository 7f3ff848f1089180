"""Conv1d weight exponents: one per output channel (``granularity="neuron"``) or per layer."""

from .._conv.quantize import channel_exponents as weight_exponents  # noqa: F401
