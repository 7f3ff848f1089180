"""The validation split carved from a training split, shared by every data set (images and
event data) so that both draw it the same way for the same seed."""

from __future__ import annotations

import numpy as np


def split_train_val(x, y, val_fraction: float, seed: int):
    """``(x_train, y_train, x_val, y_val)``: a seeded random ``val_fraction`` of the samples."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_val = int(round(val_fraction * len(x)))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]
