"""Sum-pooling exponents: the fixed kernel is exact (mantissa 1, exponent ``log2`` of the
kernel value); an average over a non-power-of-two count is refused."""

from .._conv.quantize import pool_exponents as weight_exponents  # noqa: F401
