"""Post-training quantisation of a trained run, and its float twin on the grid.

The arithmetic lives in the core (``modspike.fixedpoint``, ``modspike.fxpnet``) and the torch glue
in ``modspike.train.qat`` (shared with quantisation-aware training); this module is the export-side
entry point.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from modspike.fixedpoint import SRCFormat, WeightFormat
from modspike.fxpnet import IntNetwork
from modspike.train.qat import fidelity, quantize_network
from torch import nn

__all__ = ["fidelity", "grid_model", "post_training_quantize"]


def post_training_quantize(
    model: nn.Module, bits: int = 8, granularity: str = "layer", sfmt: SRCFormat | None = None
) -> IntNetwork:
    """The integer network of a trained spiking model (per-layer or per-output-neuron exponents)."""
    return quantize_network(model, WeightFormat(bits, granularity), sfmt)


def grid_model(model: nn.Module, qnet: IntNetwork) -> nn.Module:
    """A copy of ``model`` whose weights (and LIF biases) are replaced by their grid values: the
    float network that the standard fields of an exported NIR file describe."""
    twin = copy.deepcopy(model)

    def put(param: torch.Tensor, values: np.ndarray) -> None:
        param.data = torch.as_tensor(values, dtype=param.dtype)

    for layer, q in zip(twin.layers, qnet.layers):
        put(layer.synapse.weight, q.synapse.weights.dequantize())
        if layer.synapse.bias is not None:
            put(layer.synapse.bias, q.bias * np.exp2(q.state_exp + 6.0))
        if layer.rec is not None:
            put(layer.rec.weight, q.recurrent.weights.dequantize())
    if qnet.readout is not None:
        put(twin.readout.weight, qnet.readout.weights.dequantize())
    return twin.eval()
