"""Integer arrays of either library: numpy (the simulator) or torch tensors (``sim-torch``, on the
CPU or a GPU). The fixed-point helpers (:mod:`modspike.fixedpoint`) and the kinds' integer steps
are written once; the few calls that differ between the two libraries go through here, chosen by
the type of the array. Operators (``+ - * >> <<``, comparisons) are the same in both: int64 with
two's-complement wrap and arithmetic right shifts.

A kind whose integer step uses only these and the helpers declares it (``FixedArith.tensors``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ON_DEVICE: dict[tuple[int, str], tuple[np.ndarray, Any]] = {}


def is_tensor(x) -> bool:
    return type(x).__module__.partition(".")[0] == "torch"


def int64(x, like=None):
    """``x`` as int64: a tensor when ``x`` (or ``like``) is one (on ``like``'s device), otherwise a
    numpy array."""
    if is_tensor(x):
        return x.long()
    if like is not None and is_tensor(like):
        import torch

        return torch.as_tensor(np.asarray(x, dtype=np.int64), device=like.device)
    return np.asarray(x, dtype=np.int64)


def clip(x, lo, hi):
    return x.clamp(lo, hi) if is_tensor(x) else np.clip(x, lo, hi)


def where(cond, a, b):
    if is_tensor(cond):
        import torch

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def sign(x):
    return x.sign() if is_tensor(x) else np.sign(x)


def any_nonzero(x) -> bool:
    return bool((x != 0).any()) if is_tensor(x) else bool(np.any(x))


def take(values: np.ndarray, idx):
    """``values[idx]`` for a constant numpy table; a tensor index reads a copy of the table kept on
    its device (made once per table and device)."""
    if not is_tensor(idx):
        return values[idx]
    key = (id(values), str(idx.device))
    held = _ON_DEVICE.get(key)
    if held is None or held[0] is not values:
        import torch

        held = _ON_DEVICE[key] = (values, torch.as_tensor(values, device=idx.device))
    return held[1][idx]
