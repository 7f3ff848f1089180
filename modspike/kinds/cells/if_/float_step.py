"""Integrate-and-fire (NIR ``IF``): ``v = v + gain*a``; spike where ``v > threshold``, then
``v = v_reset``."""

from __future__ import annotations

from typing import NamedTuple

import torch

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
    v = state.v + p.gain * a
    spikes = arctan_spike(v - p.threshold)
    return spikes, IFState(torch.where(spikes > 0, p.v_reset, v))
