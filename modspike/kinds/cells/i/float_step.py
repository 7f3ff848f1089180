"""Integrator (NIR ``I``): ``v = v + gain*a``; outputs ``v``."""

from __future__ import annotations

from typing import NamedTuple

import torch


class IParams(NamedTuple):
    gain: torch.Tensor


class IState(NamedTuple):
    v: torch.Tensor


def initial_state(batch: int, n: int, device=None, dtype=None) -> IState:
    return IState(torch.zeros((batch, n), device=device, dtype=dtype))


def step(a: torch.Tensor, state: IState, p: IParams, constants=None):
    v = state.v + p.gain * a
    return v, IState(v)
