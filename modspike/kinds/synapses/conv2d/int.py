"""2-d convolution on integers: im2col + the exact GEMM of ``int_matmul`` (2**53 guard)."""

from .._conv.ops import accumulate  # noqa: F401
