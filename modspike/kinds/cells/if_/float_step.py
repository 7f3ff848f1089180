"""Integrate-and-fire (NIR ``IF``): ``v = v + gain*a``; spike where ``v > threshold``, then
``v = v_reset``.

A trained IF layer has gain 1 and v_reset 0 (what Lava's LIF with ``du = 4095, dv = 0`` runs,
and the integer model of ``int_step.py``); the spike carries the arctan surrogate gradient. A file
from another tool may carry that tool's :class:`~..lif.rule.SpikeRule` as the layer's constants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ...values import finite_constant
from ..lif.rule import custom
from ..lif.rule import float_step as rule_step
from ..surrogate import arctan_spike


class IFParams(NamedTuple):
    gain: torch.Tensor
    threshold: torch.Tensor
    v_reset: torch.Tensor


class IFState(NamedTuple):
    v: torch.Tensor


def initial_state(batch: int, n: int, device=None, dtype=None) -> IFState:
    return IFState(torch.zeros((batch, n), device=device, dtype=dtype))


def step(a: torch.Tensor, state: IFState, p: IFParams, constants=None):
    rule = custom(constants)  # another tool's conventions (lif/rule.py): v stored before reset
    if rule is not None:
        out, v = rule_step(state.v, lambda v: v + p.gain * a, p, rule)
        return out, IFState(v)
    v = state.v + p.gain * a
    spikes = arctan_spike(v - p.threshold)
    return spikes, IFState(torch.where(spikes > 0, p.v_reset, v))


class IFCell(nn.Module):
    """An IF layer for training: the ``threshold`` is a constant of the run (gain 1, reset to 0);
    the synapse's bias and weights are what learns."""

    def __init__(self, n: int, threshold: float = 1.0):
        super().__init__()
        self.n = n
        self.threshold = finite_constant(threshold, "threshold", 0.0)

    def float_params(self) -> IFParams:
        def t(x: float) -> torch.Tensor:
            return torch.tensor(x, dtype=torch.float32)

        return IFParams(t(1.0), t(self.threshold), t(0.0))

    def network_params(self) -> IFParams:
        """The exact per-neuron values (float64) for the network description."""
        n = self.n
        return IFParams(np.ones(n), np.full(n, self.threshold), np.zeros(n))

    def initial_state(self, batch: int, device=None) -> IFState:
        return initial_state(batch, self.n, device)

    def forward(self, a: torch.Tensor, state: IFState):
        return step(a, state, self.float_params())


def build(n: int, cfg) -> IFCell:
    return IFCell(n, **cfg.cell_options)
