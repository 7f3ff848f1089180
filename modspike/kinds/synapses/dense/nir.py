"""Dense synapses in NIR: ``Linear`` (no bias) or ``Affine``; modspike's metadata carries the
weight exponents and the input unit of a quantised file."""

from __future__ import annotations

import nir
import numpy as np

from modspike.errors import NIRError

from ...nir_values import array

CLAIMS = (nir.Linear, nir.Affine)


def write(synapse, meta: dict) -> nir.NIRNode:
    w = np.asarray(synapse.weight, dtype=np.float32)
    if synapse.bias is None:
        return nir.Linear(weight=w, metadata=meta)
    return nir.Affine(weight=w, bias=np.asarray(synapse.bias, dtype=np.float32), metadata=meta)


def read(node, name: str, in_shape=None) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """``(weight (n_out, n_in), bias or None, attrs)`` (a dense synapse flattens any input)."""
    w = array(node, "weight", name)
    if w.ndim != 2:
        raise NIRError(f"{name}: weight must be a matrix, got shape {w.shape}")
    bias = array(node, "bias", name, w.shape[0]) if isinstance(node, nir.Affine) else None
    return w, bias, {}
