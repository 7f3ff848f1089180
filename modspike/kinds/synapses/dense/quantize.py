"""Dense weight exponents: one per output row (``granularity="neuron"``) or one per layer."""

from modspike.fixedpoint import weight_exponents as row_exponents


def weight_exponents(weight, fmt):
    return row_exponents(weight, fmt)
