"""A stateless threshold (NIR ``Threshold``): a spike where the drive exceeds ``threshold``."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..surrogate import arctan_spike


class ThresholdParams(NamedTuple):
    threshold: torch.Tensor


class NoState(NamedTuple):
    pass


def initial_state(batch: int, n: int, device=None, dtype=None) -> NoState:
    return NoState()


def step(a: torch.Tensor, state: NoState, p: ThresholdParams, constants=None):
    return arctan_spike(a - p.threshold), state
