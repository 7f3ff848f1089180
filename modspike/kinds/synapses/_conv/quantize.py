"""Weight exponents of the conv-like kinds: one per output channel (``granularity="neuron"``: the
maximum over every axis but the first) or one per layer; pooling's fixed kernels are exact."""

from __future__ import annotations

import math

import numpy as np

from modspike.errors import QuantizationError
from modspike.fixedpoint import weight_exponents as row_exponents


def channel_exponents(weight, fmt) -> np.ndarray:
    """One exponent per output channel (or one shared): the rows of the ``(C_out, -1)`` view."""
    w = np.asarray(weight, dtype=np.float64)
    return row_exponents(w.reshape(w.shape[0], -1), fmt)


def pool_exponents(weight, fmt) -> np.ndarray:
    """A pooling kernel of ``2**e`` everywhere (1 for sum pooling, ``1/4`` for a 2x2 average) is
    exact with mantissa 1 and exponent ``e``; any other average (``1/9``) has no exact
    fixed-point form."""
    w = np.asarray(weight, dtype=np.float64)
    value = float(w.reshape(-1)[0]) if w.size else 1.0
    if not np.all(w == value) or value <= 0:
        raise QuantizationError("a pooling kernel must hold one positive value")
    e = math.log2(value)
    if e != int(e):
        size = round(1.0 / value)
        raise QuantizationError(
            f"an average pooling over {size} values (1/{size}) has no exact fixed-point form: use"
            " sum pooling, or a kernel of a power-of-two size (2x2, 4x4)"
        )
    return np.full(w.shape[0], int(e), dtype=np.int64)
