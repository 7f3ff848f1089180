"""Multi-spike LIF float dynamics (Sinabs' ``MultiSpike``, Rockpool's ``LIFTorch``):
``I = alpha*I + gain_syn*a``, ``v = beta*v + gain*I + leak``, then ``s = floor(v/threshold)``
spikes when ``v >= threshold`` and ``v -= s*threshold`` at once. A plain LIF is ``alpha = 0``,
``gain_syn = 1``; Sinabs' IAF also has ``beta = 1``. The output is a spike count per step (a
graded value), so the next layer receives counts, as it does in the producer."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..lif.rule import MULTISPIKE
from ..lif.rule import float_step as rule_step


class MultiSpikeParams(NamedTuple):
    alpha: torch.Tensor  # synaptic current decay per step (0: no current state)
    gain_syn: torch.Tensor
    beta: torch.Tensor  # membrane decay per step (1: no leak, IAF)
    gain: torch.Tensor
    leak: torch.Tensor
    threshold: torch.Tensor


class MultiSpikeState(NamedTuple):
    syn: torch.Tensor
    v: torch.Tensor  # before this step's reset (the next step subtracts the spikes first)


def initial_state(batch: int, n: int, device=None, dtype=None) -> MultiSpikeState:
    z = torch.zeros((batch, n), device=device, dtype=dtype)
    return MultiSpikeState(z, z.clone())


def step(a: torch.Tensor, state: MultiSpikeState, p: MultiSpikeParams, constants=None):
    syn = p.alpha * state.syn + p.gain_syn * a
    out, v = rule_step(state.v, lambda v: p.beta * v + p.gain * syn + p.leak, p, MULTISPIKE)
    return out, MultiSpikeState(syn, v)
