"""Leaky integrator (NIR ``LI``): ``v = beta*v + gain*a + leak``; outputs ``v`` (not spikes)."""

from __future__ import annotations

from typing import NamedTuple

import torch


class LIParams(NamedTuple):
    beta: torch.Tensor
    gain: torch.Tensor
    leak: torch.Tensor


class LIState(NamedTuple):
    v: torch.Tensor


def initial_state(batch: int, n: int, device=None, dtype=None) -> LIState:
    return LIState(torch.zeros((batch, n), device=device, dtype=dtype))


def step(a: torch.Tensor, state: LIState, p: LIParams, constants=None):
    v = p.beta * state.v + p.gain * a + p.leak
    return v, LIState(v)
