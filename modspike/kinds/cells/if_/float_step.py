"""Integrate-and-fire (NIR ``IF``): ``v = v + gain*a``; spike where ``v > threshold``, then
``v = v_reset`` (or another tool's :class:`~..lif.rule.SpikeRule`, the layer's constants)."""

from __future__ import annotations

from typing import NamedTuple

import torch

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
