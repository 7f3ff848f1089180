"""SRC float dynamics (De Geeter, Ernst & Drion, arXiv 2306.03623; cells.md section 3).

The step follows the ULiege float reference ("methode de Florent"): the slow gate and the slow
state are updated from ``h[t-1]``, not from the new ``h[t]``. The clamp ``b_h <= bh_max`` is the
parameterisation of the learned bias, applied once per run by :func:`prepare`, so that a
modulation offset adds to the clamped bias exactly as the integer model does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from ..common import clamp_max, input_synapse, leaky_track, slow_gate
from ..surrogate import straight_through_relu


@dataclass(frozen=True)
class SRCConstants:
    """Fixed (non-learned) constants of an SRC layer, cells.md section 3.3."""

    alpha: float = 0.9  # input-synapse leak
    rho: float | None = 3.0  # bound of the input drive; None = no squash
    r: float = 2.0  # fast positive feedback
    rs: float = -7.0  # slow negative feedback
    z: float = 0.0  # fast update gate
    zs_hyp: float = 0.9  # slow gate while hyperpolarised
    zs_dep: float = 0.0  # slow gate while depolarised
    zs_slope: float = 10.0
    zs_mid: float = 0.5
    bh_max: float | None = -4.0  # upper clamp of the learnable bias
    detach_rec: bool = True  # detach h[t-1], h_s[t-1] in the backward pass (section 3.9: +4 points)

    def to_dict(self) -> dict:
        return asdict(self)


class SRCParams(NamedTuple):
    bh: torch.Tensor  # neuron bias (excitability), per neuron


class SRCState(NamedTuple):
    i: torch.Tensor  # input-synapse current
    h: torch.Tensor  # fast state
    hs: torch.Tensor  # slow state


def initial_state(batch: int, n: int, device=None, dtype=None) -> SRCState:
    z = torch.zeros((batch, n), device=device, dtype=dtype)
    return SRCState(z, z.clone(), z.clone())


def prepare(params: SRCParams, c: SRCConstants) -> SRCParams:
    """The bias a step uses: ``min(b_h, bh_max)``."""
    return SRCParams(clamp_max(params.bh, c.bh_max))


def step(
    a_in: torch.Tensor, state: SRCState, p: SRCParams, c: SRCConstants
) -> tuple[torch.Tensor, SRCState]:
    """One SRC step on prepared parameters: ``(graded spike ReLU(h), state)``."""
    i, x = input_synapse(state.i, a_in, c.alpha, c.rho)
    h, hs = (state.h.detach(), state.hs.detach()) if c.detach_rec else (state.h, state.hs)
    zs = slow_gate(h, c.zs_hyp, c.zs_dep, c.zs_slope, c.zs_mid)
    pre = x + c.r * h + c.rs * hs + p.bh
    h_new = torch.tanh(pre)
    if c.z != 0.0:
        h_new = leaky_track(h, h_new, c.z)
    hs_new = leaky_track(hs, h, zs)
    return straight_through_relu(h_new), SRCState(i, h_new, hs_new)


def src_step(
    a_in: torch.Tensor, state: SRCState, bh: torch.Tensor, c: SRCConstants
) -> tuple[torch.Tensor, SRCState]:
    """One SRC step from the learned bias (clamped here): the form the excitability study uses."""
    return step(a_in, state, prepare(SRCParams(bh), c), c)


def src_initial_state(shape: tuple[int, ...], device=None, dtype=None) -> SRCState:
    z = torch.zeros(shape, device=device, dtype=dtype)
    return SRCState(z, z.clone(), z.clone())


class SRCCell(nn.Module):
    """A layer of SRC neurons; learnable bias ``b_h`` per neuron (init -6, clamped at ``bh_max``)."""

    def __init__(self, n: int, constants: SRCConstants | None = None, bh_init: float = -6.0):
        super().__init__()
        self.n = n
        self.constants = constants or SRCConstants()
        self.bh = nn.Parameter(torch.full((n,), float(bh_init)))

    def float_params(self) -> SRCParams:
        return SRCParams(self.bh)

    def initial_state(self, batch: int, device=None) -> SRCState:
        return initial_state(batch, self.n, device)

    def forward(self, a_in: torch.Tensor, state: SRCState) -> tuple[torch.Tensor, SRCState]:
        return src_step(a_in, state, self.bh, self.constants)


def build(n: int, cfg) -> SRCCell:
    """The training module from a model config (``cell_options`` override the constants)."""
    return SRCCell(n, SRCConstants(**{"detach_rec": cfg.detach_rec, **cfg.cell_options}))


def init_synapse(weight: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
