"""Dense projection on integers: the exact accumulation ``x @ mantissa.T``."""

from __future__ import annotations

import numpy as np

from modspike.fixedpoint import int_matmul


def accumulate(x: np.ndarray, mantissa: np.ndarray, attrs) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    return int_matmul(x, mantissa)
