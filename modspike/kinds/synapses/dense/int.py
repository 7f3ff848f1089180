"""Dense projection on integers: the exact accumulation ``x @ mantissa.T``."""

from __future__ import annotations

import numpy as np

from modspike.arrays import is_tensor
from modspike.fixedpoint import int_matmul


def accumulate(x: np.ndarray, mantissa: np.ndarray, attrs) -> np.ndarray:
    """Numpy arrays, or torch int64 tensors (``SynapseKind.tensors``)."""
    x = x if is_tensor(x) else np.asarray(x)
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    return int_matmul(x, mantissa)
